//! Training with stratic-core built at opt-level 0 warns once on stderr, with the profile
//! snippet, unless `STRATIC_ALLOW_UNOPTIMIZED` is set. Checked in a child process (this test
//! binary run again), whose stderr is captured whole.

use std::process::Command;

use stratic::prelude::*;

model! {
    struct Tiny { input(shape = [2]) -> dense(1) }
}

/// The child: trains twice (fit, then train_on_batch), so a second warning would show.
#[test]
fn child_trains_twice() {
    if std::env::var_os("STRATIC_SPEED_TRAP_CHILD").is_none() {
        return;
    }
    let x = array![[0.0f32, 1.0], [1.0, 0.0]];
    let y = array![[1.0f32], [0.0]];
    let mut m = Tiny::with_seed(0).compile(Adam::new(0.01), Loss::MeanSquaredError);
    m.fit(
        x.view(),
        y.view(),
        &FitOptions::default().epochs(1).verbose(0),
    )
    .unwrap();
    m.train_on_batch(x.view(), y.view()).unwrap();
}

fn child_stderr(quiet: bool) -> String {
    let mut cmd = Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args([
        "--exact",
        "child_trains_twice",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("STRATIC_SPEED_TRAP_CHILD", "1")
    .env_remove(stratic::ALLOW_UNOPTIMIZED_VAR);
    if quiet {
        cmd.env(stratic::ALLOW_UNOPTIMIZED_VAR, "1");
    }
    let out = cmd.output().expect("the child runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn training_unoptimized_warns_once_with_the_snippet_unless_silenced() {
    let stderr = child_stderr(false);
    let warnings = stderr.matches(stratic::UNOPTIMIZED_WARNING).count();
    if stratic::unoptimized() {
        assert_eq!(warnings, 1, "{stderr}");
        assert!(stderr.contains("[profile.dev.package.\"*\"]"), "{stderr}");
        assert!(!child_stderr(true).contains("stratic: warning"));
    } else {
        assert_eq!(warnings, 0, "an optimized build must not warn: {stderr}");
    }
}

//! Helpers shared by the facade's integration tests (`#[macro_use] mod common;`).

/// Checks every weight's backward gradient against central finite differences of the loss,
/// and that `count` weights were checked. `$build` makes a fresh compiled model with
/// `SGD::new(1.0)`, so that one `train_on_batch` moves each weight by minus its gradient.
#[macro_export]
macro_rules! check_gradients {
    ($build:expr, $x:expr, $y:expr, eps = $eps:expr, count = $count:expr) => {{
        let mut stepped = $build;
        let before = stepped.model().weights();
        stepped.train_on_batch($x, $y).unwrap();
        let after = stepped.model().weights();
        let mut probe = $build;
        let eps: f32 = $eps;
        let mut checked = 0usize;
        for ((key, w0), (_, w1)) in before.iter().zip(&after) {
            for i in 0..w0.len() {
                let analytic = w0.as_slice().unwrap()[i] - w1.as_slice().unwrap()[i];
                let mut loss_at = |delta: f32| {
                    let mut w = w0.clone();
                    w.as_slice_mut().unwrap()[i] += delta;
                    probe.model_mut().set_weight(key, w.view()).unwrap();
                    let l = probe.evaluate($x, $y, 64).unwrap().loss;
                    probe.model_mut().set_weight(key, w0.view()).unwrap();
                    l
                };
                let numeric = (loss_at(eps) - loss_at(-eps)) / (2.0 * eps);
                assert!(
                    (numeric - analytic).abs() <= 2e-3 + 2e-2 * numeric.abs(),
                    "{key}[{i}]: finite differences {numeric}, backward {analytic}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, $count);
    }};
}

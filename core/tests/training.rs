//! `fit` as a Keras user expects: validation, sample and class weights, metrics, callbacks,
//! the progress lines and the history's plot. Models are written by hand as `model!` generates
//! them (see `common`), plus a two-output one below.

mod common;

use std::sync::OnceLock;

use common::{Mlp, Regressor};
use ndarray::{Array, Array1, Array2, ArrayView, ArrayView2, Ix2};
use stratic_core::shape::{Activation, DenseConfig, Dim, TensorSpec};
use stratic_core::{
    as_rows, check_dense_input, gather_rows, rows_to_output, Adam, Callback, Dense, EarlyStopping,
    Error, ExponentialDecay, FitOptions, Layer, Logs, Loss, Metric, Model, ModelCheckpoint,
    Optimizer, ParamMut, ParamRef, ReduceLROnPlateau, Rng, StopReason, TerminateOnNaN,
    TrainContext, SGD,
};

fn data(n: usize) -> (Array2<f32>, Array2<f32>) {
    let x = Array2::from_shape_fn((n, 4), |(i, j)| ((i * 7 + j * 3) % 11) as f32 / 11.0 - 0.5);
    let y = Array2::from_shape_fn((n, 2), |(i, j)| ((i + 2 * j) % 5) as f32 / 5.0);
    (x, y)
}

fn quiet() -> FitOptions {
    FitOptions::default().verbose(0).shuffle(false)
}

/// Replaces the epoch's `loss` with a scripted value and records the weights at each epoch,
/// so that callbacks can be driven by a known sequence.
struct Script {
    losses: Vec<f32>,
    weights: Vec<Vec<(String, ndarray::ArrayD<f32>)>>,
}

impl<M: Model> Callback<M> for Script {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        logs.set("loss", self.losses[epoch]);
        self.weights.push(ctx.model().weights());
        Ok(())
    }
}

#[test]
fn early_stopping_stops_where_keras_does_and_restores_the_best_weights() {
    let (x, y) = data(12);
    let mut c = Mlp::with_seed(1).compile(Adam::new(0.01), Loss::mse());
    // Best at epoch 2 (0-based); patience 3: epochs 3, 4, 5 do not improve -> stop after 5.
    let mut script = Script {
        losses: vec![1.0, 0.8, 0.5, 0.6, 0.55, 0.7, 0.1, 0.1],
        weights: Vec::new(),
    };
    let mut early = EarlyStopping::new("loss")
        .patience(3)
        .restore_best_weights(true);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(8).batch_size(4))
        .callback(&mut script)
        .callback(&mut early)
        .run()
        .unwrap();
    assert_eq!(h.epoch, vec![0, 1, 2, 3, 4, 5]);
    assert_eq!(h.loss(), &[1.0, 0.8, 0.5, 0.6, 0.55, 0.7]);
    assert_eq!(h.stopped, Some(StopReason::Requested { epoch: 5 }));
    assert_eq!(early.stopped_epoch(), Some(5));
    assert_eq!(early.best_epoch(), 2);
    assert_ne!(c.model().weights(), script.weights[5]);
    assert_eq!(c.model().weights(), script.weights[2]);
}

#[test]
fn early_stopping_on_a_missing_monitor_is_an_error() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(1).compile(Adam::new(0.01), Loss::mse());
    let mut early = EarlyStopping::new("val_loss");
    let e = c
        .fit_with(x.view(), y.view(), &quiet().epochs(2))
        .callback(&mut early)
        .run()
        .unwrap_err();
    match e {
        Error::InvalidArgument { name, message } => {
            assert_eq!(name, "monitor");
            assert!(message.contains("available: loss"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn validation_split_is_the_tail_before_shuffling() {
    let (x, y) = data(20);
    let mut c = Mlp::with_seed(2).compile(Adam::new(0.01), Loss::mse());
    let h = c
        .fit(
            x.view(),
            y.view(),
            &FitOptions::default()
                .verbose(0)
                .epochs(3)
                .batch_size(4)
                .seed(3)
                .validation_split(0.25),
        )
        .unwrap();
    // The last epoch's val_loss is the loss of the final weights on the last 5 samples.
    let tail = c
        .evaluate(
            x.slice(ndarray::s![15.., ..]),
            y.slice(ndarray::s![15.., ..]),
            32,
        )
        .unwrap();
    assert_eq!(h.val_loss().len(), 3);
    assert!((h.val_loss()[2] - tail.loss).abs() < 1e-6);
    // Too few samples to split is an error, as in Keras.
    let (x1, y1) = data(1);
    assert!(matches!(
        c.fit(x1.view(), y1.view(), &quiet().validation_split(0.5)),
        Err(Error::InvalidArgument {
            name: "validation_split",
            ..
        })
    ));
}

#[test]
fn validation_data_is_checked_and_logged() {
    let (x, y) = data(16);
    let (xv, yv) = data(6);
    let mut c = Mlp::with_seed(2)
        .compile(Adam::new(0.01), Loss::mse())
        .metrics(&[Metric::Mae]);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(2))
        .validation_data(xv.view(), yv.view())
        .run()
        .unwrap();
    let keys: Vec<&str> = h.history.keys().map(String::as_str).collect();
    assert_eq!(keys, ["loss", "mae", "val_loss", "val_mae"]);
    let e = c.evaluate(xv.view(), yv.view(), 4).unwrap();
    assert!((h.get("val_mae")[1] - e.metrics["mae"]).abs() < 1e-6);
    let bad = Array2::<f32>::zeros((6, 3));
    assert!(matches!(
        c.fit_with(x.view(), y.view(), &quiet())
            .validation_data(xv.view(), bad.view())
            .run(),
        Err(Error::TargetShape { .. })
    ));
}

#[test]
fn sample_and_class_weights_follow_keras() {
    // With a zero learning rate the predictions are fixed, so the epoch loss is the
    // weighted loss over all samples: sum(w_i l_i) / n.
    let (x, _) = data(10);
    let ids = Array1::from_shape_fn(10, |i| (i % 2) as u8);
    let run = |w: Option<Array1<f32>>, cw: Option<&[(usize, f32)]>| {
        let mut c = Mlp::with_seed(5).compile(
            SGD::new(0.0),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        );
        let mut o = quiet().batch_size(3);
        if let Some(cw) = cw {
            o = o.class_weight(cw);
        }
        let mut f = c.fit_with(x.view(), ids.view(), &o);
        if let Some(w) = &w {
            f = f.sample_weight(w.view());
        }
        f.run().unwrap().loss()[0]
    };
    let plain = run(None, None);
    let doubled = run(Some(Array1::from_elem(10, 2.0)), None);
    assert!((doubled - 2.0 * plain).abs() < 1e-6);
    // Class 1 weighted 3: the same as a sample weight of 3 on odd samples.
    let by_sample = run(
        Some(Array1::from_shape_fn(10, |i| {
            if i % 2 == 1 {
                3.0
            } else {
                1.0
            }
        })),
        None,
    );
    let by_class = run(None, Some(&[(1, 3.0)]));
    assert!((by_sample - by_class).abs() < 1e-6);
    assert!((by_sample - plain).abs() > 1e-3);
    // Hand-computed: the per-sample losses from predictions.
    let c = Mlp::with_seed(5);
    let logits = c.predict(x.view()).unwrap();
    let w: Vec<f32> = (0..10)
        .map(|i| if i % 2 == 1 { 3.0 } else { 1.0 })
        .collect();
    let mut expected = 0.0f64;
    for i in 0..10 {
        let row = logits.row(i);
        let lse = row.iter().map(|v| (*v as f64).exp()).sum::<f64>().ln();
        expected += w[i] as f64 * (lse - row[i % 2] as f64);
    }
    assert!((by_class as f64 - expected / 10.0).abs() < 1e-5);
    // Both at once is an error, as in Keras.
    let mut c = Mlp::with_seed(5).compile(SGD::new(0.0), Loss::sparse_categorical_crossentropy());
    let w = Array1::from_elem(10, 1.0f32);
    assert!(matches!(
        c.fit_with(x.view(), ids.view(), &quiet().class_weight(&[(0, 2.0)]))
            .sample_weight(w.view())
            .run(),
        Err(Error::InvalidArgument {
            name: "class_weight",
            ..
        })
    ));
}

#[test]
fn metrics_are_logged_per_epoch_and_evaluated() {
    let (x, _) = data(12);
    let ids = Array1::from_shape_fn(12, |i| (i % 2) as i32);
    let mut c = Mlp::with_seed(3)
        .compile(
            SGD::new(0.0),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        )
        .metrics(&[Metric::Accuracy]);
    let h = c.fit(x.view(), ids.view(), &quiet().epochs(2)).unwrap();
    // Hand-computed accuracy of the fixed predictions.
    let pred = c.predict(x.view()).unwrap();
    let hits = (0..12)
        .filter(|&i| {
            let r = pred.row(i);
            let argmax = if r[1] > r[0] { 1 } else { 0 };
            argmax == i % 2
        })
        .count();
    let acc = hits as f32 / 12.0;
    assert_eq!(h.get("accuracy"), &[acc, acc]);
    let e = c.evaluate(x.view(), ids.view(), 5).unwrap();
    assert_eq!(e.get("accuracy"), Some(acc));
    assert_eq!(e.get("loss"), Some(e.loss));
    assert!((e.loss - h.loss()[1]).abs() < 1e-6);
}

#[test]
fn progress_lines_through_a_writer() {
    let (x, _) = data(10);
    let ids = Array1::from_shape_fn(10, |i| (i % 2) as i32);
    let mut c = Mlp::with_seed(3)
        .compile(
            Adam::new(0.01),
            Loss::SparseCategoricalCrossentropy { from_logits: true },
        )
        .metrics(&[Metric::Accuracy]);
    for verbose in [1, 2] {
        let mut out = Vec::new();
        let h = c
            .fit_with(
                x.view(),
                ids.view(),
                &FitOptions::default()
                    .epochs(2)
                    .batch_size(4)
                    .validation_split(0.2)
                    .verbose(verbose),
            )
            .output(&mut out)
            .run()
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "Epoch 1/2");
        assert_eq!(lines[2], "Epoch 2/2");
        // 8 training samples in batches of 4: 2 steps.
        let head = if verbose == 1 {
            "2/2 ━━━━━━━━━━━━━━━━━━━━ "
        } else {
            "2/2 - "
        };
        assert!(lines[3].starts_with(head), "{text}");
        // Keras' order: training values sorted, then validation ones, 4 decimals.
        let (_, values) = lines[3].split_once("/step - ").unwrap();
        let pairs: Vec<(&str, f32)> = values
            .split(" - ")
            .map(|p| {
                let (k, v) = p.split_once(": ").unwrap();
                (k, v.parse().unwrap())
            })
            .collect();
        let names: Vec<&str> = pairs.iter().map(|p| p.0).collect();
        assert_eq!(names, ["accuracy", "loss", "val_accuracy", "val_loss"]);
        for (name, value) in pairs {
            assert!((h.get(name)[1] - value).abs() <= 5e-5, "{name}: {text}");
        }
    }
}

#[test]
fn terminate_on_nan_stops_and_reports_in_the_history() {
    let (mut x, y) = data(12);
    x[[5, 2]] = f32::NAN;
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    let before = c.model().weights();
    let mut t = TerminateOnNaN;
    // `fit` refuses the NaN before training unless its check is off.
    assert!(matches!(
        c.fit(x.view(), y.view(), &quiet()),
        Err(Error::NonFiniteInput {
            row: 5,
            column: 2,
            ..
        })
    ));
    let h = c
        .fit_with(
            x.view(),
            y.view(),
            &quiet().epochs(3).batch_size(4).check_finite(false),
        )
        .callback(&mut t)
        .run()
        .unwrap();
    assert_eq!(
        h.stopped,
        Some(StopReason::NonFiniteLoss { epoch: 0, batch: 1 })
    );
    assert_eq!(h.epoch, vec![0]);
    assert!(h.loss()[0].is_nan());
    // One good batch was applied; the bad one was not.
    assert_ne!(c.model().weights(), before);
    assert!(c
        .model()
        .weights()
        .iter()
        .all(|(_, w)| w.iter().all(|v| v.is_finite())));
}

/// Stops from `on_batch_end`, counting batches.
struct StopAfter {
    batches: usize,
    seen: usize,
}

impl<M> Callback<M> for StopAfter {
    fn on_batch_end(
        &mut self,
        _: usize,
        _: &Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        self.seen += 1;
        if self.seen == self.batches {
            ctx.stop_training();
        }
        Ok(())
    }
}

/// Records what the training context says of the run, once per batch.
#[derive(Default)]
struct RunShape(Vec<(usize, usize, usize)>);

impl<M> Callback<M> for RunShape {
    fn on_batch_end(
        &mut self,
        _: usize,
        _: &Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        self.0
            .push((ctx.epochs(), ctx.steps_per_epoch(), ctx.rank()));
        Ok(())
    }
}

#[test]
fn callbacks_see_the_epochs_and_steps_of_the_run() {
    let (x, y) = data(12);
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    let mut shape = RunShape::default();
    c.fit_with(x.view(), y.view(), &quiet().epochs(2).batch_size(5))
        .callback(&mut shape)
        .run()
        .unwrap();
    // 12 samples in batches of 5: 3 steps per epoch, 2 epochs, one process (rank 0).
    assert_eq!(shape.0, vec![(2, 3, 0); 6]);
}

#[test]
fn a_user_callback_stops_mid_epoch() {
    let (x, y) = data(12);
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    let mut stop = StopAfter {
        batches: 4,
        seen: 0,
    };
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(5).batch_size(4))
        .callback(&mut stop)
        .run()
        .unwrap();
    // 3 batches per epoch: the 4th is the first of epoch 1, which then ends.
    assert_eq!(stop.seen, 4);
    assert_eq!(h.epoch, vec![0, 1]);
    assert_eq!(h.stopped, Some(StopReason::Requested { epoch: 1 }));
}

#[test]
fn model_checkpoint_saves_every_epoch_or_the_best() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    let losses = vec![1.0, 0.5, 0.7, 0.4, 0.4];
    let mut all = Vec::new();
    let mut best = Vec::new();
    {
        let mut script = Script {
            losses: losses.clone(),
            weights: Vec::new(),
        };
        let mut every = ModelCheckpoint::new(|_: &Mlp, epoch, _| {
            all.push(epoch);
            Ok(())
        });
        let mut only_best = ModelCheckpoint::new(|m: &Mlp, epoch, logs: &Logs| {
            best.push((epoch, logs.get("loss"), m.weights().len()));
            Ok(())
        })
        .monitor("loss")
        .save_best_only(true);
        c.fit_with(x.view(), y.view(), &quiet().epochs(5))
            .callback(&mut script)
            .callback(&mut every)
            .callback(&mut only_best)
            .run()
            .unwrap();
    }
    assert_eq!(all, vec![0, 1, 2, 3, 4]);
    assert_eq!(
        best,
        vec![(0, Some(1.0), 4), (1, Some(0.5), 4), (3, Some(0.4), 4)]
    );
}

#[test]
fn model_checkpoint_writes_the_best_weights_to_a_file() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(1).compile(Adam::default(), Loss::mse());
    let mut script = Script {
        losses: vec![1.0, 0.5, 0.7],
        weights: Vec::new(),
    };
    let dir = std::env::temp_dir().join(format!("stratic-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let best = dir.join("best.safetensors");
    let mut checkpoint = ModelCheckpoint::to_path::<Mlp>(&best)
        .monitor("loss")
        .save_best_only(true);
    let mut every = ModelCheckpoint::to_path::<Mlp>(dir.join("epoch{epoch}.safetensors"));
    c.fit_with(x.view(), y.view(), &quiet().epochs(3))
        .callback(&mut script)
        .callback(&mut checkpoint)
        .callback(&mut every)
        .run()
        .unwrap();
    let mut restored = Mlp::with_seed(9);
    restored.load_weights(&best).unwrap();
    assert_eq!(restored.weights(), script.weights[1]);
    for epoch in 1..=3 {
        assert!(dir.join(format!("epoch{epoch}.safetensors")).exists());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn reduce_lr_on_plateau_and_exponential_decay() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(1).compile(SGD::new(0.1), Loss::mse());
    let mut script = Script {
        losses: vec![1.0, 0.9, 0.9, 0.9, 0.9, 0.9],
        weights: Vec::new(),
    };
    let mut plateau = ReduceLROnPlateau::new("loss").patience(2).factor(0.5);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(6))
        .callback(&mut script)
        .callback(&mut plateau)
        .run()
        .unwrap();
    // Best at epoch 1; the wait reaches the patience at epochs 3 and 5, which halve the
    // rate. Keras logs the rate each epoch used, before any reduction.
    let lr: Vec<f32> = h.get("learning_rate").to_vec();
    assert_eq!(lr, vec![0.1, 0.1, 0.1, 0.1, 0.05, 0.05]);
    assert!((c.optimizer().learning_rate() - 0.025).abs() < 1e-9);

    // A schedule of the step: 8 samples in batches of 2 for 2 epochs is 8 steps; the last
    // step used step index 7.
    let decay = ExponentialDecay::new(0.1, 2, 0.5).unwrap();
    let mut c = Mlp::with_seed(1)
        .compile(SGD::new(0.1), Loss::mse())
        .learning_rate_schedule(decay);
    c.fit(x.view(), y.view(), &quiet().epochs(2).batch_size(2))
        .unwrap();
    let expected = 0.1 * 0.5f64.powf(3.5);
    assert!((c.optimizer().learning_rate() as f64 - expected).abs() < 1e-8);
    // ReduceLROnPlateau cannot set a scheduled rate.
    let mut plateau = ReduceLROnPlateau::new("loss").patience(0);
    let mut script = Script {
        losses: vec![1.0, 1.0],
        weights: Vec::new(),
    };
    assert!(matches!(
        c.fit_with(x.view(), y.view(), &quiet().epochs(2))
            .callback(&mut script)
            .callback(&mut plateau)
            .run(),
        Err(Error::InvalidArgument {
            name: "learning_rate",
            ..
        })
    ));
}

#[test]
fn initial_epoch_numbers_the_epochs() {
    let (x, _) = data(8);
    let mut c = Regressor::with_seed(1).compile(Adam::default(), Loss::mse());
    let y8 = Array2::<f32>::zeros((8, 8));
    let mut out = Vec::new();
    let h = c
        .fit_with_output(
            x.view(),
            y8.view(),
            &FitOptions::default().epochs(4).initial_epoch(2).verbose(2),
            &mut out,
        )
        .unwrap();
    assert_eq!(h.epoch, vec![2, 3]);
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("Epoch 3/4\n"), "{text}");
}

#[test]
fn history_plot_is_an_svg_file() {
    let (x, y) = data(12);
    let mut c = Mlp::with_seed(1)
        .compile(Adam::new(0.01), Loss::mse())
        .metrics(&[Metric::Mae]);
    let h = c
        .fit(
            x.view(),
            y.view(),
            &quiet().epochs(4).validation_split(0.25),
        )
        .unwrap();
    let path = std::env::temp_dir().join(format!("stratic-history-{}.svg", std::process::id()));
    h.plot(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "));
    assert!(text.contains("xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(text.trim_end().ends_with("</svg>"));
    assert!(text.contains(">loss</text>") && text.contains(">mae</text>"));
    let e = h.plot("/nonexistent-dir/x.svg").unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
}

// ---- A model with two outputs, as `model!` generates it for
//      `let h = input(shape=[4]) -> dense(5, activation=tanh);
//       (h -> dense(3, activation=softmax, name="cls"), h -> dense(1, name="reg"))`.

struct TwoHeads {
    dense: Dense,
    cls: Dense,
    reg: Dense,
}

impl TwoHeads {
    fn with_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let mut c0 = DenseConfig::new(5);
        c0.activation = Activation::Tanh;
        let mut c1 = DenseConfig::new(3);
        c1.activation = Activation::Softmax;
        TwoHeads {
            dense: Dense::build(c0, 4, &mut rng),
            cls: Dense::build(c1, 5, &mut rng),
            reg: Dense::build(DenseConfig::new(1), 5, &mut rng),
        }
    }
}

impl Model for TwoHeads {
    type Input<'a> = ArrayView<'a, f32, Ix2>;
    type Batch = Array<f32, Ix2>;
    type Output = (Array<f32, Ix2>, Array<f32, Ix2>);

    fn output_specs() -> &'static [TensorSpec] {
        static SPEC: OnceLock<[TensorSpec; 2]> = OnceLock::new();
        SPEC.get_or_init(|| {
            [
                TensorSpec::dense(vec![Dim::Known(3)]),
                TensorSpec::dense(vec![Dim::Known(1)]),
            ]
        })
    }
    fn output_names() -> &'static [&'static str] {
        &["cls", "reg"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        check_dense_input("input", &TensorSpec::dense(vec![Dim::Known(4)]), &x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        gather_rows(x, rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch.view()
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = as_rows(x);
        let h = Layer::call(&self.dense, h0.view().into());
        vec![
            Layer::call(&self.cls, h.view().into()),
            Layer::call(&self.reg, h.view().into()),
        ]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let mut it = outputs.into_iter();
        let a = it.next().unwrap_or_default();
        let b = it.next().unwrap_or_default();
        (rows_to_output(a, &[n, 3]), rows_to_output(b, &[n, 1]))
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        let h0 = as_rows(x);
        Layer::forward(&mut self.dense, h0.view().into(), &mut Default::default());
        Layer::forward(
            &mut self.cls,
            Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
        Layer::forward(
            &mut self.reg,
            Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
    }
    fn train_output(&mut self, index: usize) -> ArrayView2<'_, f32> {
        if index == 0 {
            Layer::output(&self.cls)
        } else {
            Layer::output(&self.reg)
        }
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let h0 = as_rows(x);
        Layer::backward(
            &mut self.cls,
            Layer::output(&self.dense).into(),
            grad_outputs[0].view(),
            true,
        );
        Layer::backward(
            &mut self.reg,
            Layer::output(&self.dense).into(),
            grad_outputs[1].view(),
            true,
        );
        let g = &Layer::grad_input(&self.cls) + &Layer::grad_input(&self.reg);
        Layer::backward(&mut self.dense, h0.view().into(), g.view(), false);
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        Layer::visit_params(&mut self.dense, "dense", f);
        Layer::visit_params(&mut self.cls, "cls", f);
        Layer::visit_params(&mut self.reg, "reg", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        Layer::visit_weights(&self.dense, "dense", f);
        Layer::visit_weights(&self.cls, "cls", f);
        Layer::visit_weights(&self.reg, "reg", f);
    }
}

#[test]
fn several_outputs_log_keras_names() {
    let (x, _) = data(12);
    let ids = Array1::from_shape_fn(12, |i| (i % 3) as u8);
    let reg = Array1::from_shape_fn(12, |i| i as f32 / 12.0);
    let mut c = TwoHeads::with_seed(1)
        .compile_with(
            Adam::new(0.01),
            &[Loss::sparse_categorical_crossentropy(), Loss::mse()],
            Some(&[1.0, 0.5]),
        )
        .unwrap()
        .metrics(&[Metric::Accuracy, Metric::Mae]);
    let h = c
        .fit(
            x.view(),
            (ids.view(), reg.view()),
            &quiet().epochs(2).validation_split(0.25),
        )
        .unwrap();
    let keys: Vec<&str> = h.history.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "cls_accuracy",
            "cls_loss",
            "cls_mae",
            "loss",
            "reg_accuracy",
            "reg_loss",
            "reg_mae",
            "val_cls_accuracy",
            "val_cls_loss",
            "val_cls_mae",
            "val_loss",
            "val_reg_accuracy",
            "val_reg_loss",
            "val_reg_mae",
        ]
    );
    // The total is the weighted sum of the outputs' losses.
    let total = h.get("cls_loss")[0] + 0.5 * h.get("reg_loss")[0];
    assert!((h.loss()[0] - total).abs() < 1e-5);
    let e = c.evaluate(x.view(), (ids.view(), reg.view()), 5).unwrap();
    assert!(e.metrics.contains_key("reg_mae") && e.metrics.contains_key("cls_loss"));
    // EarlyStopping in auto mode knows accuracy goes up.
    let mut early = EarlyStopping::new("val_cls_accuracy").patience(100);
    c.fit_with(x.view(), (ids.view(), reg.view()), &quiet().epochs(1))
        .validation_data(x.view(), (ids.view(), reg.view()))
        .callback(&mut early)
        .run()
        .unwrap();
    assert!(early.best() >= 0.0);
}

/// Sets the logged value `key` from a script at each epoch end and records the weights, so
/// that the real `EarlyStopping` (next in the callback list) sees a known sequence.
struct Monitor {
    key: &'static str,
    values: Vec<f32>,
    weights: Vec<Vec<(String, ndarray::ArrayD<f32>)>>,
}

impl<M: Model> Callback<M> for Monitor {
    fn on_epoch_end(
        &mut self,
        epoch: usize,
        logs: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        logs.set(self.key, self.values[epoch]);
        self.weights.push(ctx.model().weights());
        Ok(())
    }
}

/// Runs `fit` for up to `values.len()` epochs with `early` watching the scripted `key`;
/// returns the epoch it stopped after (None if it ran to the end), the callback and the
/// weights at each epoch, and the model's final weights.
#[allow(clippy::type_complexity)]
fn run_early(
    key: &'static str,
    metrics: &[Metric],
    mut early: EarlyStopping,
    values: &[f32],
) -> (
    Option<usize>,
    EarlyStopping,
    Vec<Vec<(String, ndarray::ArrayD<f32>)>>,
    Vec<(String, ndarray::ArrayD<f32>)>,
) {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4)
        .compile(Adam::new(0.01), Loss::mse())
        .metrics(metrics);
    let mut monitor = Monitor {
        key,
        values: values.to_vec(),
        weights: Vec::new(),
    };
    let h = c
        .fit_with(
            x.view(),
            y.view(),
            &quiet().epochs(values.len()).batch_size(4),
        )
        .callback(&mut monitor)
        .callback(&mut early)
        .run()
        .unwrap();
    let stopped = match h.stopped {
        Some(StopReason::Requested { epoch }) => Some(epoch),
        None => None,
        other => panic!("{other:?}"),
    };
    assert_eq!(stopped, early.stopped_epoch());
    assert_eq!(h.epoch.len(), stopped.map_or(values.len(), |e| e + 1));
    (stopped, early, monitor.weights, c.model().weights())
}

// Each case is Keras 3's EarlyStopping.on_epoch_end worked by hand on the scripted values.
#[test]
fn early_stopping_min_mode_patience_and_min_delta() {
    let es = || EarlyStopping::new("score").mode(stratic_core::Mode::Min);
    // Patience 2 on [1.0, 0.9, 0.95, 0.91, 0.92]: best at 1, waits 1, 2 -> stops at 3.
    let (stop, e, ..) = run_early(
        "score",
        &[],
        es().patience(2),
        &[1.0, 0.9, 0.95, 0.91, 0.92],
    );
    assert_eq!((stop, e.best_epoch(), e.best()), (Some(3), 1, 0.9));
    // Patience 0 stops at the first epoch without improvement, but never at epoch 0.
    let (stop, e, ..) = run_early("score", &[], es(), &[1.0, 1.0, 0.5]);
    assert_eq!((stop, e.best_epoch()), (Some(1), 0));
    // A monotone improvement never stops.
    let (stop, e, ..) = run_early("score", &[], es(), &[1.0, 0.9, 0.8]);
    assert_eq!((stop, e.best_epoch()), (None, 2));
    // min_delta 0.05: 0.9 -> 0.89 is no improvement.
    let (stop, e, ..) = run_early(
        "score",
        &[],
        es().patience(1).min_delta(0.05),
        &[0.9, 0.89, 0.88],
    );
    assert_eq!((stop, e.best_epoch()), (Some(1), 0));
    // ... but 0.9 -> 0.8 is.
    let (stop, e, ..) = run_early(
        "score",
        &[],
        es().patience(1).min_delta(0.05),
        &[0.9, 0.8, 0.79],
    );
    assert_eq!((stop, e.best_epoch()), (Some(2), 1));
}

#[test]
fn early_stopping_baseline_end_to_end() {
    let es = || EarlyStopping::new("score").mode(stratic_core::Mode::Min);
    // Improvements that do not beat the baseline do not reset the wait; Keras returns on
    // every improvement before checking the patience, so it stops at the first non-improving
    // epoch once the wait is used up: 2 here, 3 without the baseline.
    let values = [0.9, 0.8, 0.8, 0.8];
    let (stop, e, ..) = run_early("score", &[], es().patience(2).baseline(0.5), &values);
    assert_eq!((stop, e.best_epoch()), (Some(2), 1));
    let (stop, e, ..) = run_early("score", &[], es().patience(2), &values);
    assert_eq!((stop, e.best_epoch()), (Some(3), 1));
    // A value beating the baseline resets the wait as usual.
    let (stop, ..) = run_early(
        "score",
        &[],
        es().patience(2).baseline(0.85),
        &[0.9, 0.8, 0.8, 0.8],
    );
    assert_eq!(stop, Some(3));
}

#[test]
fn early_stopping_start_from_epoch_end_to_end() {
    // The first two epochs are not monitored (their 0.1 is never the best), so the best is
    // epoch 2 and restoring brings back its weights, not epoch 0's.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Min)
        .patience(1)
        .start_from_epoch(2)
        .restore_best_weights(true);
    let (stop, e, weights, last) = run_early("score", &[], es, &[0.1, 0.2, 0.9, 1.0, 1.1]);
    assert_eq!((stop, e.best_epoch(), e.best()), (Some(3), 2, 0.9));
    assert_eq!(last, weights[2]);
    assert_ne!(last, weights[0]);
    assert_ne!(last, weights[3]);
    // Without the warm-up, epoch 0 is the best and training stops at 1.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Min)
        .patience(1)
        .restore_best_weights(true);
    let (stop, e, weights, last) = run_early("score", &[], es, &[0.1, 0.2, 0.9, 1.0, 1.1]);
    assert_eq!((stop, e.best_epoch()), (Some(1), 0));
    assert_eq!(last, weights[0]);
    // A warm-up longer than the run: nothing is monitored, nothing restored.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Min)
        .start_from_epoch(5)
        .restore_best_weights(true);
    let (stop, _, weights, last) = run_early("score", &[], es, &[0.1, 0.2, 0.9]);
    assert_eq!(stop, None);
    assert_eq!(last, weights[2]);
}

#[test]
fn early_stopping_max_mode_end_to_end() {
    let values = [0.5, 0.7, 0.6, 0.65, 0.66];
    // Explicit max mode on a scripted value.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Max)
        .patience(1)
        .restore_best_weights(true);
    let (stop, e, weights, last) = run_early("score", &[], es, &values);
    assert_eq!((stop, e.best_epoch(), e.best()), (Some(2), 1, 0.7));
    assert_eq!(last, weights[1]);
    // Auto mode on a metric that goes up (the model's accuracy, replaced by the script).
    let es = EarlyStopping::new("accuracy").patience(1);
    let (stop, e, ..) = run_early("accuracy", &[Metric::Accuracy], es, &values);
    assert_eq!((stop, e.best_epoch()), (Some(2), 1));
    // Auto mode on a metric that goes down (mae): the same values, read the other way.
    let es = EarlyStopping::new("mae").patience(1);
    let (stop, e, ..) = run_early("mae", &[Metric::Mae], es, &values);
    assert_eq!((stop, e.best_epoch()), (Some(1), 0));
    // Baseline in max mode: 0.5 and 0.7 do not beat 0.8, so the wait runs from epoch 0.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Max)
        .patience(2)
        .baseline(0.8);
    let (stop, ..) = run_early("score", &[], es, &values);
    assert_eq!(stop, Some(2));
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Max)
        .patience(2);
    let (stop, ..) = run_early("score", &[], es, &values);
    assert_eq!(stop, Some(3));
    // min_delta in max mode: nothing after 0.6 beats it by 0.05.
    let es = EarlyStopping::new("score")
        .mode(stratic_core::Mode::Max)
        .patience(3)
        .min_delta(0.05);
    let (stop, e, ..) = run_early("score", &[], es, &[0.5, 0.6, 0.62, 0.64, 0.645]);
    assert_eq!((stop, e.best_epoch()), (Some(4), 1));
}

#[test]
fn early_stopping_auto_mode_on_an_unknown_name_is_an_error() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4).compile(Adam::new(0.01), Loss::mse());
    let mut monitor = Monitor {
        key: "score",
        values: vec![1.0; 2],
        weights: Vec::new(),
    };
    let mut early = EarlyStopping::new("score");
    let e = c
        .fit_with(x.view(), y.view(), &quiet().epochs(2))
        .callback(&mut monitor)
        .callback(&mut early)
        .run()
        .unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { name: "mode", .. }),
        "{e:?}"
    );
}

#[test]
fn compiled_metrics_ignore_sample_weights_as_in_keras() {
    // Keras 3 passes sample_weight to the loss and to `weighted_metrics`, not to the
    // `metrics` given to compile: the loss is weighted, mse/mae/accuracy are not. A zero
    // learning rate keeps the predictions fixed, so both are known from `predict`.
    let (x, y) = data(10);
    let w = Array1::from_shape_fn(10, |i| [0.0f32, 2.0, 0.5, 1.0, 3.0][i % 5]);
    let mut c = Mlp::with_seed(6)
        .compile(SGD::new(0.0), Loss::mse())
        .metrics(&[Metric::Mse, Metric::Mae]);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().batch_size(3))
        .sample_weight(w.view())
        .run()
        .unwrap();
    let p = c.predict(x.view()).unwrap();
    let (mut mse, mut mae, mut weighted) = (0.0f64, 0.0f64, 0.0f64);
    for i in 0..10 {
        let (mut se, mut ae) = (0.0f64, 0.0f64);
        for j in 0..2 {
            let d = (p[[i, j]] - y[[i, j]]) as f64;
            se += d * d / 2.0;
            ae += d.abs() / 2.0;
        }
        mse += se / 10.0;
        mae += ae / 10.0;
        weighted += w[i] as f64 * se / 10.0;
    }
    assert!((h.get("mse")[0] as f64 - mse).abs() < 1e-6, "{h:?}");
    assert!((h.get("mae")[0] as f64 - mae).abs() < 1e-6, "{h:?}");
    assert!((h.loss()[0] as f64 - weighted).abs() < 1e-5, "{h:?}");
    assert!((mse - weighted).abs() > 1e-3, "the weights must matter");
    // A weight of 0 on every sample: the loss is 0, the metrics are unchanged.
    let zeros = Array1::<f32>::zeros(10);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().batch_size(3))
        .sample_weight(zeros.view())
        .run()
        .unwrap();
    assert_eq!(h.loss()[0], 0.0);
    assert!((h.get("mse")[0] as f64 - mse).abs() < 1e-6);
}

#[test]
fn fit_rejects_invalid_optimizer_settings() {
    let (x, y) = data(8);
    fn refused<O: Optimizer>(
        optimizer: O,
        x: ArrayView2<'_, f32>,
        y: ArrayView2<'_, f32>,
    ) -> Error {
        let mut c = Mlp::with_seed(1).compile(optimizer, Loss::mse());
        let before = c.model().weights();
        let e = c.fit(x, y, &quiet()).unwrap_err();
        // A refused fit leaves the weights as they were.
        assert_eq!(c.model().weights(), before);
        e
    }
    for (e, name) in [
        (refused(SGD::new(-0.1), x.view(), y.view()), "learning_rate"),
        (
            refused(Adam::new(f32::INFINITY), x.view(), y.view()),
            "learning_rate",
        ),
        (
            refused(stratic_core::RMSprop::new(0.1).rho(2.0), x.view(), y.view()),
            "rho",
        ),
    ] {
        match e {
            Error::InvalidArgument { name: n, .. } => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
}

#[test]
fn reduce_lr_on_plateau_reduces_down_to_min_lr_and_no_further() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4).compile(SGD::new(1.0), Loss::mse());
    let mut monitor = Monitor {
        key: "loss",
        values: vec![1.0; 5],
        weights: Vec::new(),
    };
    let mut plateau = ReduceLROnPlateau::new("loss")
        .patience(1)
        .factor(0.5)
        .min_lr(0.3);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(5).batch_size(4))
        .callback(&mut monitor)
        .callback(&mut plateau)
        .run()
        .unwrap();
    // Logged at each epoch end before the change: 1 -> 0.5 -> max(0.25, 0.3) = 0.3, then
    // it stays at min_lr.
    assert_eq!(h.get("learning_rate"), &[1.0, 1.0, 0.5, 0.3, 0.3]);
    assert_eq!(c.optimizer().learning_rate(), 0.3);
}

#[test]
fn model_checkpoint_best_only_skips_an_equal_value_in_max_mode() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4).compile(Adam::new(0.01), Loss::mse());
    let mut monitor = Monitor {
        key: "score",
        values: vec![0.5, 0.5, 0.7, 0.6],
        weights: Vec::new(),
    };
    let mut saved = Vec::new();
    let mut checkpoint = ModelCheckpoint::new(|_: &Mlp, epoch, _: &Logs| {
        saved.push(epoch);
        Ok(())
    })
    .monitor("score")
    .mode(stratic_core::Mode::Max)
    .save_best_only(true);
    c.fit_with(x.view(), y.view(), &quiet().epochs(4).batch_size(4))
        .callback(&mut monitor)
        .callback(&mut checkpoint)
        .run()
        .unwrap();
    assert_eq!(checkpoint.best(), Some(0.7));
    drop(checkpoint);
    assert_eq!(saved, vec![0, 2]);
}

/// Sets the learning rate from a callback and records what `set_learning_rate` answered.
struct SetRate(Vec<(f32, bool)>);

impl<M: Model> Callback<M> for SetRate {
    fn on_epoch_end(
        &mut self,
        _: usize,
        _: &mut Logs,
        ctx: &mut TrainContext<'_, M>,
    ) -> Result<(), Error> {
        for lr in [-0.5f32, f32::INFINITY, f32::NAN, 0.0, 0.25] {
            let ok = ctx.set_learning_rate(lr).is_ok();
            self.0.push((ctx.learning_rate(), ok));
        }
        Ok(())
    }
}

#[test]
fn a_callback_cannot_set_a_negative_or_non_finite_learning_rate() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4).compile(SGD::new(0.1), Loss::mse());
    let mut set = SetRate(Vec::new());
    c.fit_with(x.view(), y.view(), &quiet())
        .callback(&mut set)
        .run()
        .unwrap();
    assert_eq!(
        set.0,
        vec![
            (0.1, false),
            (0.1, false),
            (0.1, false),
            (0.0, true),
            (0.25, true)
        ]
    );
}

#[test]
fn reduce_lr_on_plateau_in_max_mode() {
    let (x, y) = data(8);
    let mut c = Mlp::with_seed(4).compile(SGD::new(1.0), Loss::mse());
    let mut monitor = Monitor {
        key: "score",
        values: vec![0.5, 0.7, 0.6, 0.9, 0.9],
        weights: Vec::new(),
    };
    // min_delta 0 (Keras' default is 1e-4): an equal value is no improvement.
    let mut plateau = ReduceLROnPlateau::new("score")
        .mode(stratic_core::Mode::Max)
        .patience(1)
        .factor(0.5)
        .min_delta(0.0);
    let h = c
        .fit_with(x.view(), y.view(), &quiet().epochs(5).batch_size(4))
        .callback(&mut monitor)
        .callback(&mut plateau)
        .run()
        .unwrap();
    // 0.7 and 0.9 improve; 0.6 and the repeated 0.9 do not, each halving the rate.
    assert_eq!(h.get("learning_rate"), &[1.0, 1.0, 1.0, 0.5, 0.5]);
    assert_eq!(c.optimizer().learning_rate(), 0.25);
    // min_delta counts against the improvement, in max mode (0.55 is not 0.1 above 0.5) and
    // in min mode; and with min_delta 0 an equal value in min mode is no improvement.
    for (mode, min_delta, values, expected) in [
        (stratic_core::Mode::Max, 0.1, [0.5, 0.55, 0.7], 0.5),
        (stratic_core::Mode::Max, 0.1, [0.5, 0.65, 0.8], 1.0),
        (stratic_core::Mode::Min, 0.1, [0.5, 0.45, 0.3], 0.5),
        (stratic_core::Mode::Min, 0.0, [0.5, 0.5, 0.4], 0.5),
    ] {
        let mut c = Mlp::with_seed(4).compile(SGD::new(1.0), Loss::mse());
        let mut monitor = Monitor {
            key: "score",
            values: values.to_vec(),
            weights: Vec::new(),
        };
        let mut plateau = ReduceLROnPlateau::new("score")
            .mode(mode)
            .patience(1)
            .factor(0.5)
            .min_delta(min_delta);
        c.fit_with(x.view(), y.view(), &quiet().epochs(3).batch_size(4))
            .callback(&mut monitor)
            .callback(&mut plateau)
            .run()
            .unwrap();
        assert_eq!(
            c.optimizer().learning_rate(),
            expected,
            "{mode:?} {min_delta} {values:?}"
        );
    }
}

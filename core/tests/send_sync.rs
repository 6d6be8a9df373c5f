//! Which public types cross threads (issue 19): every value type is `Send + Sync`, and a
//! compiled model, schedule included, is `Send + Sync` when its model and optimizer are, so
//! training can run in a worker thread. The assertions are checked at compile time: a type
//! that stops being `Send` or `Sync` fails to build this test.
//!
//! Not `Send`: `Fit` and `TrainContext`, which borrow callbacks and the optimizer as
//! `&mut dyn` for the duration of one `fit` call, and `ModelCheckpoint<F>` exactly when its
//! saving closure `F` is not.

mod common;

use common::Mlp;
use ndarray::Array2;
use stratic_core::shape::{Activation, DType, Dim, LayerInfo, Layout, TensorSpec};
use stratic_core::*;

fn send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_and_sync() {
    // Errors.
    send_sync::<Error>();
    send_sync::<FileFormat>();
    send_sync::<FileProblem>();
    send_sync::<WeightMismatch>();
    send_sync::<ShapeMismatch>();
    send_sync::<DTypeMismatch>();
    send_sync::<ArchitectureDifference>();
    send_sync::<SparseError>();
    send_sync::<RaggedError>();
    // Tensors and data.
    send_sync::<SparseTensor<f32>>();
    send_sync::<SparseOptions>();
    send_sync::<RaggedTensor<f32>>();
    send_sync::<RaggedTensor<i32>>();
    send_sync::<RaggedView<'static, f32>>();
    send_sync::<GraphBuffers>();
    send_sync::<NonFinite>();
    send_sync::<Rng>();
    // Layers.
    send_sync::<Dense>();
    send_sync::<Embedding>();
    send_sync::<GlobalPooling>();
    send_sync::<Merge>();
    send_sync::<ToDense>();
    send_sync::<ActivationLayer>();
    send_sync::<ParamMut<'static>>();
    send_sync::<ParamRef<'static>>();
    // Training.
    send_sync::<Loss>();
    send_sync::<Metric>();
    send_sync::<SGD>();
    send_sync::<RMSprop>();
    send_sync::<Adam>();
    send_sync::<AdamW>();
    send_sync::<ExponentialDecay>();
    send_sync::<FitOptions>();
    send_sync::<History>();
    send_sync::<Logs>();
    send_sync::<Evaluation>();
    send_sync::<StopReason>();
    send_sync::<Mode>();
    send_sync::<EarlyStopping>();
    send_sync::<ReduceLROnPlateau>();
    send_sync::<TerminateOnNaN>();
    send_sync::<ModelCheckpoint<fn(&Mlp, usize, &Logs) -> Result<(), Error>>>();
    send_sync::<Compiled<Mlp, Adam>>();
    send_sync::<Compiled<Mlp, SGD>>();
    // Weights files.
    send_sync::<LoadLimits>();
    #[cfg(feature = "keras")]
    {
        send_sync::<KerasArchive>();
        send_sync::<Hdf5File<'static>>();
        send_sync::<Hdf5Dataset<'static>>();
    }
    // Shape rules.
    send_sync::<TensorSpec>();
    send_sync::<Dim>();
    send_sync::<DType>();
    send_sync::<Layout>();
    send_sync::<Activation>();
    send_sync::<LayerInfo>();
}

// The point of it: a compiled model with a schedule trains in a worker thread and comes back.
#[test]
fn a_compiled_model_with_a_schedule_trains_in_another_thread() {
    let x = Array2::from_shape_fn((16, 4), |(i, j)| ((i + j) % 5) as f32 / 5.0);
    let y = Array2::from_shape_fn((16, 2), |(i, j)| ((i * j) % 3) as f32 / 3.0);
    let schedule = ExponentialDecay::new(0.05, 4, 0.5).unwrap();
    let mut model = Mlp::with_seed(1)
        .compile(SGD::new(0.05), Loss::mse())
        .learning_rate_schedule(schedule);
    let first = model.evaluate(x.view(), y.view(), 16).unwrap().loss;
    let options = FitOptions::default().epochs(20).verbose(0).seed(1);
    let (model, loss) = std::thread::spawn(move || {
        model.fit(x.view(), y.view(), &options).unwrap();
        let loss = model.evaluate(x.view(), y.view(), 16).unwrap().loss;
        (model, loss)
    })
    .join()
    .expect("the worker finished");
    assert!(loss < first, "{first} -> {loss}");
    assert!(model.optimizer().learning_rate() < 0.05);
}

//! Serving anywhere: the digits convnet of `examples/digits.rs`, trained briefly, exported to
//! ONNX, with the command that runs it in ONNX Runtime.
//!
//! Run with `cargo run --release --example serve_onnx [path]` (default `digits.onnx` in the
//! system's temporary directory). The file takes `(batch, 8, 8, 1)` images, channels last as
//! in Keras, under the model's input name, and returns the ten probabilities per image.

use ndarray::Axis;
use stratic::prelude::*;

#[allow(dead_code)] // The example's `main` is not called here.
#[path = "digits.rs"]
mod digits;

use digits::DigitsNet;

fn main() -> Result<(), Error> {
    let path = std::env::args()
        .nth(1)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("digits.onnx"));
    let (x, y) = digits::load()?;
    let mut model =
        DigitsNet::with_seed(7).compile(Adam::new(0.01), Loss::sparse_categorical_crossentropy());
    let options = FitOptions::default()
        .epochs(3)
        .batch_size(32)
        .seed(7)
        .verbose(0);
    model.fit(x.view(), y.view(), &options)?;
    let model = model.model();

    model.save_onnx(&path)?;
    let input = DigitsNet::input_names()
        .first()
        .copied()
        .unwrap_or("input_layer");
    let output = DigitsNet::output_names()
        .first()
        .copied()
        .unwrap_or("dense");
    // A blank image: the command below feeds the same, so the two printouts can be compared.
    let blank = ndarray::Array4::<f32>::zeros((1, 8, 8, 1));
    let expected = model.predict(blank.view())?;
    println!(
        "wrote {} (opset {}, IR {}): input '{input}' (batch, 8, 8, 1), output '{output}' (batch, 10)",
        path.display(),
        stratic::onnx::OPSET,
        stratic::onnx::IR_VERSION
    );
    println!(
        "stratic's prediction for a blank image: {:.5}",
        expected.index_axis(Axis(0), 0)
    );
    println!("\nRun it in ONNX Runtime on the same image (pip install onnxruntime numpy):\n");
    println!(
        "python3 -c \"import numpy as np, onnxruntime as ort; \
         s = ort.InferenceSession('{}'); \
         x = np.zeros((1, 8, 8, 1), np.float32); \
         print(s.run(['{output}'], {{'{input}': x}})[0])\"",
        path.display()
    );
    Ok(())
}

//! The HDF5 reader and the `.keras` archive reader on arbitrary bytes: `Ok` or a typed
//! error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratic::prelude::*;

model! {
    struct Target {
        input(shape = [4]) -> dense(5, activation = relu) -> dense(3, activation = tanh) -> dense(2)
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(file) = stratic::weights::Hdf5File::parse(data) {
        let _ = file.datasets();
    }
    let mut model = Target::with_seed(0);
    // Detects a zip archive by its magic and otherwise reads HDF5.
    let _ = stratic::weights::load_keras_weights_bytes(&mut model, data);
    let _ = stratic::weights::load_keras_bytes(&mut model, data);
});

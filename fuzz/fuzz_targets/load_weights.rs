//! `load_weights` on arbitrary bytes: any input must give `Ok` or a typed error, never a
//! panic, an abort or an allocation the input did not pay for.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stratic::prelude::*;

model! {
    struct Target {
        input(shape = [4]) -> dense(5, activation = relu) -> dense(2)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut model = Target::with_seed(0);
    if stratic::weights::from_safetensors(&mut model, data).is_ok() {
        // What loaded must save and load back to the same bytes.
        if let Ok(bytes) = stratic::weights::to_safetensors(&model) {
            let mut again = Target::with_seed(1);
            assert!(stratic::weights::from_safetensors(&mut again, &bytes).is_ok());
        }
    }
});

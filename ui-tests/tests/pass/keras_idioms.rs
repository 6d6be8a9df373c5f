//! Keras idioms that port as written: `x = Dense(64)(x)` as `let` shadowing, and a chain
//! inside a merge's list (`Concatenate()([f, Dense(4)(meta)])`).
use stratic::prelude::*;

model! {
    struct Rebinding {
        let x = input(shape = [8], name = "features");
        let x = x -> dense(16, activation = relu);
        let x = x -> dense(16, activation = relu);
        x -> dense(2)
    }

    struct NestedChain {
        let image = input(shape = [6], name = "image");
        let meta = input(shape = [3], name = "meta");
        let f = image -> dense(4, activation = relu);
        concatenate([f, meta -> dense(4, activation = relu)]) -> dense(1, activation = sigmoid)
    }
}

fn main() {
    let m = Rebinding::with_seed(0);
    let y = m.predict(Array2::<f32>::zeros((3, 8)).view()).unwrap();
    assert_eq!(y.dim(), (3, 2));
    let n = NestedChain::with_seed(0);
    let y = n
        .predict((Array2::<f32>::zeros((2, 6)).view(), Array2::<f32>::ones((2, 3)).view()))
        .unwrap();
    assert_eq!(y.dim(), (2, 1));
    let summary = n.summary().to_string();
    assert!(summary.contains("dense_1 (Dense)"), "{summary}");
}

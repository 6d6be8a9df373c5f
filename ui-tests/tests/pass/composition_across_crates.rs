//! Models of another crate used as layers: by path, and nested in that crate already.
use stratic::ndarray::Array2;
use stratic::prelude::*;
use stratic_ui_tests::nets;

model! {
    pub struct Classifier {
        input(shape = [8]) -> nets::Encoder -> dense(3, activation = softmax)
    }

    pub struct TwoTowers {
        let x = input(shape = [8]);
        let t = x -> stratic_ui_tests::nets::Tower;
        let e = x -> nets::Encoder -> dense(2);
        add([t, e]) -> dense(1)
    }
}

fn main() {
    let x = Array2::<f32>::zeros((2, 8));
    let m = Classifier::with_seed(0);
    assert_eq!(m.predict(x.view()).unwrap().dim(), (2, 3));
    let names: Vec<String> = TwoTowers::with_seed(0).weights().into_iter().map(|(k, _)| k).collect();
    assert_eq!(names[0], "tower/encoder/enc_hidden/kernel");
    assert_eq!(names[4], "tower/head/kernel");
    assert_eq!(TwoTowers::with_seed(0).predict(x.view()).unwrap().dim(), (2, 1));
}

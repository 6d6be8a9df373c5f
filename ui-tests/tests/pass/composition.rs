//! Models made of models: a sub-model in a chain, a shared one, one inside another, and a
//! sub-model declared after the model that uses it.
use stratic::ndarray::Array2;
use stratic::prelude::*;

model! {
    pub struct Classifier {
        input(shape = [8]) -> Encoder -> dense(3, activation = softmax)
    }

    pub struct Encoder {
        input(shape = [8]) -> dense(16, activation = relu, name = "enc_hidden") -> dense(4, name = "code")
    }

    pub struct Siamese {
        let enc = Encoder;
        let a = input(shape = [8], name = "a") -> enc;
        let b = input(shape = [8], name = "b") -> enc;
        subtract([a, b]) -> dense(1, activation = sigmoid)
    }

    pub struct Deep {
        let x = input(shape = [8]);
        let h = x -> Classifier;
        let g = x -> Encoder -> dense(3);
        add([h, g]) -> dense(2)
    }
}

fn main() {
    let x = Array2::<f32>::zeros((2, 8));
    let y: Array2<f32> = Classifier::with_seed(0).predict(x.view()).unwrap();
    assert_eq!(y.dim(), (2, 3));
    let s = Siamese::with_seed(0).predict((x.view(), x.view())).unwrap();
    assert_eq!(s.dim(), (2, 1));
    let d = Deep::with_seed(0).predict(x.view()).unwrap();
    assert_eq!(d.dim(), (2, 2));
    let code: Array2<f32> = Deep::with_seed(0).encoder.predict(x.view()).unwrap();
    assert_eq!(code.dim(), (2, 4));
}

//! Several models in one invocation, with doc comments, attributes and visibility.
use stratic::prelude::*;

mod models {
    use stratic::prelude::*;

    model! {
        /// A regressor: documented, public, and `Debug`.
        #[derive(Debug)]
        pub struct Regressor {
            input(shape = [4]) -> dense(8, activation = relu) -> dense(1)
        }

        /// A classifier, crate-visible.
        #[derive(Clone)]
        #[allow(dead_code)]
        pub(crate) struct Classifier {
            dense(16, activation = relu, input_shape = [8])
                -> dense(3)
                -> activation(softmax)
        }

        /// A private model is fine too.
        struct Private {
            input(shape = [2]) -> dense(2)
        }
    }

    pub fn private_output() -> usize {
        let x = Array2::<f32>::zeros((1, 2));
        Private::default().predict(x.view()).unwrap().len()
    }
}

fn main() {
    let r = models::Regressor::with_seed(3);
    let c = models::Classifier::with_seed(3).clone();
    let _ = format!("{r:?}");
    let y = r.predict(Array2::<f32>::zeros((5, 4)).view()).unwrap();
    assert_eq!(y.dim(), (5, 1));
    let p = c.predict(Array2::<f32>::ones((2, 8)).view()).unwrap();
    for row in p.rows() {
        assert!((row.sum() - 1.0).abs() < 1e-5);
    }
    assert_eq!(models::private_output(), 2);
}

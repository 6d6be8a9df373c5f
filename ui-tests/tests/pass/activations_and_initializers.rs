//! Every activation (as `dense`'s argument, positional, and as a layer) and every initializer.
use stratic::prelude::*;

model! {
    struct EveryActivation {
        input(shape = [4])
            -> dense(4, activation = linear)
            -> dense(4, activation = relu)
            -> dense(4, activation = sigmoid)
            -> dense(4, activation = tanh)
            -> dense(4, activation = softmax)
            -> dense(4, activation = gelu)
            -> dense(4, activation = elu)
            -> dense(4, activation = selu)
            -> dense(4, activation = softplus)
            -> dense(4, activation = swish)
            -> dense(4, activation = silu)
            -> dense(4, relu)
    }

    struct ActivationLayers {
        input(shape = [3, 4])
            -> activation(linear)
            -> activation(relu)
            -> activation(activation = sigmoid)
            -> activation(tanh)
            -> activation(softmax)
            -> activation(gelu)
            -> activation(elu)
            -> activation(selu)
            -> activation(softplus)
            -> activation(swish, name = "last_activation")
    }

    struct EveryInitializer {
        input(shape = [4])
            -> dense(4, kernel_initializer = glorot_uniform, bias_initializer = zeros)
            -> dense(4, kernel_initializer = glorot_normal, bias_initializer = ones)
            -> dense(4, kernel_initializer = he_uniform, bias_initializer = random_uniform)
            -> dense(4, kernel_initializer = he_normal, bias_initializer = random_normal)
            -> dense(4, kernel_initializer = lecun_uniform, use_bias = false)
            -> dense(4, kernel_initializer = lecun_normal, bias_initializer = he_normal)
            -> dense(4, kernel_initializer = random_uniform)
            -> dense(4, kernel_initializer = random_normal)
            -> dense(4, kernel_initializer = zeros)
            -> dense(4, kernel_initializer = ones, name = "head")
    }
}

fn main() {
    let x = Array2::<f32>::from_elem((3, 4), 0.5);
    let y = EveryActivation::with_seed(1).predict(x.view()).unwrap();
    assert_eq!(y.dim(), (3, 4));
    assert!(y.iter().all(|v| v.is_finite()));

    let x3 = ndarray::Array3::<f32>::from_elem((2, 3, 4), -0.5);
    let y = ActivationLayers::with_seed(1).predict(x3.view()).unwrap();
    assert_eq!(y.dim(), (2, 3, 4));

    let model = EveryInitializer::with_seed(1);
    let y = model.predict(x.view()).unwrap();
    assert_eq!(y.dim(), (3, 4));
    // `ones` kernel into the last layer, named as declared.
    let names: Vec<String> = model.weights().into_iter().map(|(k, _)| k).collect();
    assert!(names.contains(&"head/kernel".to_string()), "{names:?}");
    assert!(!names.contains(&"dense_4/bias".to_string()), "{names:?}");
}

//! Every argument of `input(...)` in valid use.
use stratic::prelude::*;

const DATA: [[f32; 4]; 2] = [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]];

model! {
    struct BatchSize {
        input(shape = [4], batch_size = 2) -> dense(8)
    }

    struct BatchShape {
        input(batch_shape = [None, 4]) -> dense(8)
    }

    struct BatchInputShape {
        input(batch_input_shape = [2, 4]) -> dense(8)
    }

    struct InputShapeAlias {
        input(input_shape = [4]) -> dense(8)
    }

    struct ShapeOnFirstLayer {
        input(name = "features") -> dense(8, input_shape = [4])
    }

    struct Positional {
        input([3, 4]) -> dense(8)
    }

    struct Dtype {
        input(shape = [4], dtype = f32) -> dense(8)
    }

    struct KerasDtypeName {
        input(shape = [4], dtype = float32) -> dense(8)
    }

    struct Named {
        input(shape = [4], name = "features") -> dense(8)
    }

    struct NotOptional {
        input(shape = [4], optional = false) -> dense(8)
    }

    struct ExplicitFalse {
        input(shape = [4], sparse = false, ragged = false) -> dense(8)
    }

    struct Sparse {
        input(shape = [20], sparse = true) -> dense(8)
    }

    struct Ragged {
        input(shape = [None, 2], ragged = true) -> activation(relu) -> global_average_pooling_1d()
    }

    struct RaggedRows {
        input(shape = [None, 4], ragged = true) -> dense(8) -> global_max_pooling_1d()
    }

    struct RaggedSpec {
        input(type_spec = RaggedTensorSpec(shape = [None, None], dtype = i32))
            -> embedding(10, 4)
            -> global_sum_pooling_1d()
    }

    struct RaggedSpecWithRank {
        input(type_spec = RaggedTensorSpec(shape = [None, None, 4], ragged_rank = 1), name = "x")
            -> dense(8)
            -> global_average_pooling_1d()
    }

    struct SparseSpec {
        input(type_spec = SparseTensorSpec(shape = [None, 20])) -> dense(8)
    }

    struct DenseSpec {
        input(type_spec = TensorSpec(shape=[None, 4])) -> dense(8)
    }

    struct Constant {
        input(shape = [4], input_tensor = DATA) -> dense(8)
    }
}

fn main() {
    let x = Array2::<f32>::zeros((2, 4));
    for y in [
        BatchSize::with_seed(1).predict(x.view()).unwrap(),
        BatchShape::with_seed(1).predict(x.view()).unwrap(),
        BatchInputShape::with_seed(1).predict(x.view()).unwrap(),
        InputShapeAlias::with_seed(1).predict(x.view()).unwrap(),
        ShapeOnFirstLayer::with_seed(1).predict(x.view()).unwrap(),
        Dtype::with_seed(1).predict(x.view()).unwrap(),
        KerasDtypeName::with_seed(1).predict(x.view()).unwrap(),
        Named::with_seed(1).predict(x.view()).unwrap(),
        NotOptional::with_seed(1).predict(x.view()).unwrap(),
        ExplicitFalse::with_seed(1).predict(x.view()).unwrap(),
        DenseSpec::with_seed(1).predict(x.view()).unwrap(),
        Constant::with_seed(1).predict_input_tensor().unwrap(),
    ] {
        assert_eq!(y.dim(), (2, 8));
    }
    let x3 = ndarray::Array3::<f32>::zeros((2, 3, 4));
    assert_eq!(
        Positional::with_seed(1).predict(x3.view()).unwrap().dim(),
        (2, 3, 8)
    );
    assert_eq!(Constant::input_tensor(), ndarray::arr2(&DATA));

    // The runtime for f64, sparse and ragged inputs comes later: these models are checked and
    // built, with no `predict` yet.
    let _ = Sparse::with_seed(1);
    let _ = Ragged::with_seed(1);
    let _ = RaggedRows::with_seed(1);
    let _ = RaggedSpec::with_seed(1);
    let _ = RaggedSpecWithRank::with_seed(1);
    let _ = SparseSpec::with_seed(1);
}

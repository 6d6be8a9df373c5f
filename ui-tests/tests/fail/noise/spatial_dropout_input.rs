use stratic::prelude::*;

model! {
    struct M {
        input(shape = [None, 3]) -> spatial_dropout_1d(0.5) -> global_average_pooling_1d() -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [4, 4, 3]) -> spatial_dropout_2d(0.5, data_format = channels_first) -> flatten() -> dense(1)
    }
}

fn main() {}

use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> gaussian_dropout(1.0) -> dense(1)
    }
}

model! {
    struct N {
        input(shape = [6, 3]) -> spatial_dropout_1d(-0.5) -> flatten() -> dense(1)
    }
}

model! {
    struct P {
        input(shape = [4, 4, 3]) -> spatial_dropout_2d(1.5) -> flatten() -> dense(1)
    }
}

fn main() {}

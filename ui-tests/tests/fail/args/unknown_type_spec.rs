use stratic::prelude::*;

model! {
    struct M {
        input(type_spec = TensorSpce(shape = [None, 4])) -> dense(8)
    }
}

fn main() {}

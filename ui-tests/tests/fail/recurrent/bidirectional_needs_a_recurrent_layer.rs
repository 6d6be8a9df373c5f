use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> bidirectional(dense(4))
    }
}

model! {
    struct N {
        input(shape = [5, 3]) -> bidirectional(4)
    }
}

model! {
    struct O {
        input(shape = [5, 3]) -> bidirectional(grux(4))
    }
}

fn main() {}

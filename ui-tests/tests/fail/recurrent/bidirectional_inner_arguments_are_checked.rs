use stratic::prelude::*;

model! {
    struct M {
        input(shape = [5, 3]) -> bidirectional(lstm(4, activaton = relu))
    }
}

model! {
    struct N {
        input(shape = [5, 3]) -> bidirectional(gru(4, return_state = true))
    }
}

model! {
    struct O {
        input(shape = [5, 3]) -> bidirectional(gru(4, name = "g"))
    }
}

fn main() {}

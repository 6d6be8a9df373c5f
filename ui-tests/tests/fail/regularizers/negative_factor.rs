use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4])
            -> dense(8, kernel_regularizer = l2(-0.01))
            -> dense(1, activity_regularizer = l1_l2(l1 = 0.1, l2 = -1))
    }
}

fn main() {}

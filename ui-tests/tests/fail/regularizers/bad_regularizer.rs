use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4])
            -> dense(8, kernel_regularizer = l3(0.01))
            -> dense(4, bias_regularizer = l2(l1 = 0.01))
            -> dense(1, kernel_regularizer = 0.01)
    }
}

fn main() {}

use stratic::prelude::*;

model! {
    pub struct A {
        input(shape = [4]) -> B -> dense(1)
    }

    pub struct B {
        input(shape = [4]) -> A -> dense(4)
    }
}

fn main() {}

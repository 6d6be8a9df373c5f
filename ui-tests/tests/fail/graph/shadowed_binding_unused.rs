use stratic::prelude::*;

model! {
    struct M {
        let x = input(shape = [4]);
        // Shadowed before it is used: it reaches no output, as rustc would warn.
        let h = x -> dense(8);
        let h = x -> dense(2);
        h
    }
}

fn main() {}

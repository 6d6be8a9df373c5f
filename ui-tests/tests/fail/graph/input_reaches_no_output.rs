use stratic::prelude::*;

model! {
    struct M {
        let query = input(shape = [4], name = "query");
        let doc = input(shape = [6], name = "doc");
        query -> dense(1)
    }
}

fn main() {}

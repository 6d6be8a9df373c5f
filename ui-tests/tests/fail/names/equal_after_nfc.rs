use stratic::prelude::*;

model! {
    struct M {
        // "café" precomposed (U+00E9), then with a combining acute accent (e + U+0301).
        input(shape = [4]) -> dense(8, name = "caf\u{e9}") -> dense(2, name = "cafe\u{301}")
    }
}

fn main() {}

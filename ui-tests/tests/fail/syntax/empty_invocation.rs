use stratic::prelude::*;

model! {}

fn main() {}

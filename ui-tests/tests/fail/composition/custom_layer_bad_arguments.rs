use stratic::custom_layer;

pub struct Scale;
custom_layer!(Scale, units = 0);

pub struct Other;
custom_layer!(Other, width = 3);

fn main() {}

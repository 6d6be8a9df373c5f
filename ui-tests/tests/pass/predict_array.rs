//! Rows as Rust arrays of the declared shape, in and out.
use stratic::prelude::*;

model! {
    struct Flat {
        input(shape = [4]) -> dense(8)
    }

    struct Grid {
        input(shape = [2, 3]) -> dense(5)
    }
}

fn main() {
    let flat = Flat::with_seed(1);
    let y: Vec<[f32; 8]> = flat.predict_array(&[[0.0f32; 4]]).unwrap();
    assert_eq!(y.len(), 1);
    let same = flat.predict(Array2::<f32>::zeros((1, 4)).view()).unwrap();
    assert_eq!(y[0].as_slice(), same.as_slice().unwrap());

    let rows = [[1.0f32, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0], [0.0; 4]];
    assert_eq!(flat.predict_array(&rows).unwrap().len(), 3);

    let grid = Grid::with_seed(1);
    let y: Vec<[[f32; 5]; 2]> = grid.predict_array(&[[[0.5f32; 3]; 2]; 4]).unwrap();
    assert_eq!(y.len(), 4);
}

use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dense(8)
    }
}

fn main() {
    let x = Array2::<f32>::zeros((10, 4));
    let y = Array2::<f32>::ones((10, 8));
    let mut model = M::with_seed(1);
    // Training needs `model.compile(optimizer, loss)` first.
    let _ = model.fit(x.view(), y.view(), &FitOptions::default());
}

use stratic::prelude::*;

model! {
    struct M {
        input(shape = [4]) -> dnese(8)
    }
}

// Only the macro's error: the stand-in model takes these calls.
fn main() {
    let x = Array2::<f32>::zeros((2, 4));
    let y = Array2::<f32>::zeros((2, 8));
    let model = M::with_seed(0);
    println!("{}", model.summary());
    let _ = model.predict(x.view());
    let mut model = model.compile(Adam::new(1e-3), Loss::mse());
    let _ = model.fit(x.view(), y.view(), &FitOptions::default());
    let _ = model.evaluate(x.view(), y.view(), 32);
}

use stratic::prelude::*;

model! {
    /// The smallest graph: a bound input and one chain.
    struct Minimal {
        let x = input(shape = [4]);
        x -> dense(8)
    }

    /// Every merge layer, a shared layer value and two outputs.
    struct Merges {
        let a = input(shape = [6], name = "a");
        let b = input(shape = [6], name = "b");
        let encode = dense(4, activation = tanh) -> activation(relu);
        let ea = a -> encode;
        let eb = b -> encode;
        let sum = add([ea, eb]);
        let diff = subtract([ea, eb]);
        let prod = multiply([ea, eb]);
        let mean = average([ea, eb, prod]);
        let hi = maximum([ea, eb]);
        let lo = minimum([ea, eb]);
        let sim = dot([ea, eb], normalize = true);
        let all = concatenate([sum, diff, mean, hi, lo], axis = -1);
        let head = all -> dense(1);
        let score = concatenate([head, sim]) -> dense(1, activation = sigmoid, name = "score");
        (score, ea)
    }
}

fn main() {
    let m = Minimal::with_seed(1);
    assert_eq!(m.predict(Array2::<f32>::zeros((2, 4)).view()).unwrap().dim(), (2, 8));
    let m = Merges::with_seed(1);
    let x = Array2::<f32>::ones((3, 6));
    let (score, ea) = m.predict((x.view(), x.view())).unwrap();
    assert_eq!((score.dim(), ea.dim()), ((3, 1), (3, 4)));
    println!("{}", m.summary());
}

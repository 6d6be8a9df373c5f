//! Sparse inputs end to end: Keras parity of Dense on a sparse batch, and a model written by
//! hand exactly as `model!` will generate it for `input(shape = [20], sparse = true)`, trained
//! with `fit`, `evaluate`, `predict` and `train_on_batch` through the ordinary `Compiled`.

mod common;

use common::{array, array2, close, fixture};
use ndarray::{Array2, ArrayView2};
use stratic_core::shape::{Activation, DenseConfig, Dim, Layout, TensorSpec};
use stratic_core::{
    as_rows, check_dense_input, check_sparse_input, gather_rows, rows_to_output, Adam, Dense,
    Error, FitOptions, Layer, Loss, Model, ParamMut, ParamRef, Rng, SparseOptions, SparseTensor,
};

#[test]
fn dense_on_sparse_input_matches_keras() {
    let f = fixture("sparse_dense.json");
    let indices: Vec<i64> = f["indices"]
        .as_array()
        .expect("indices")
        .iter()
        .flat_map(|row| row.as_array().expect("index row").iter())
        .map(|v| v.as_i64().expect("integer index"))
        .collect();
    let values = array(&f["values"]).into_dimensionality().expect("1-D");
    let shape: Vec<i64> = f["dense_shape"]
        .as_array()
        .expect("dense_shape")
        .iter()
        .map(|v| v.as_i64().expect("integer dim"))
        .collect();
    let indices = Array2::from_shape_vec((values.len(), shape.len()), indices).expect("[nnz, 2]");
    let x = SparseTensor::from_coo(
        indices.view(),
        values.view(),
        &shape,
        SparseOptions::default(),
    )
    .expect("the fixture is canonical");
    let mut d = Dense::build(DenseConfig::new(3), 6, &mut Rng::new(0));
    d.set_kernel(array2(&f["kernel"]).view()).unwrap();
    d.set_bias(array(&f["bias"]).into_dimensionality().expect("1-D").view())
        .unwrap();
    let expected = array(&f["output"]);
    close("call_sparse", &d.call_sparse(&x).into_dyn(), &expected);
    d.forward_train_sparse(&x);
    close(
        "forward_train_sparse",
        &d.output().to_owned().into_dyn(),
        &expected,
    );
}

const FEATURES: usize = 20;

fn sparse_spec() -> TensorSpec {
    let mut spec = TensorSpec::dense(vec![Dim::Known(FEATURES)]);
    spec.layout = Layout::Sparse;
    spec
}

fn output_specs() -> &'static [TensorSpec] {
    static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(1)])])
}

fn layers(seed: u64) -> (Dense, Dense) {
    let mut rng = Rng::new(seed);
    let mut c0 = DenseConfig::new(8);
    c0.activation = Activation::Relu;
    let mut c1 = DenseConfig::new(1);
    c1.activation = Activation::Sigmoid;
    let dense = Dense::build(c0, FEATURES, &mut rng);
    let dense_1 = Dense::build(c1, 8, &mut rng);
    (dense, dense_1)
}

/// `input(shape = [20], sparse = true, name = "words") -> dense(8, activation = relu)
/// -> dense(1, activation = sigmoid)`, as the macro will generate it.
struct SparseClassifier {
    dense: Dense,
    dense_1: Dense,
}

impl SparseClassifier {
    fn with_seed(seed: u64) -> Self {
        let (dense, dense_1) = layers(seed);
        SparseClassifier { dense, dense_1 }
    }
}

impl Model for SparseClassifier {
    type Input<'a> = &'a SparseTensor<f32>;
    type Batch = SparseTensor<f32>;
    type Output = Array2<f32>;

    fn output_specs() -> &'static [TensorSpec] {
        output_specs()
    }
    fn output_names() -> &'static [&'static str] {
        &["dense_1"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        check_sparse_input("words", &sparse_spec(), x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        x.gather_rows(rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h1 = self.dense.call_sparse(x);
        vec![Layer::call(&self.dense_1, h1.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 1])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        self.dense.forward_train_sparse(x);
        Layer::forward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense_1)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        Layer::backward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            grad_output,
            true,
        );
        self.dense
            .backward_sparse(x, Layer::grad_input(&self.dense_1));
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        Layer::visit_params(&mut self.dense, "dense", f);
        Layer::visit_params(&mut self.dense_1, "dense_1", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        Layer::visit_weights(&self.dense, "dense", f);
        Layer::visit_weights(&self.dense_1, "dense_1", f);
    }
}

/// The same network on the densified input, the reference.
struct DenseClassifier {
    dense: Dense,
    dense_1: Dense,
}

impl Model for DenseClassifier {
    type Input<'a> = ArrayView2<'a, f32>;
    type Batch = Array2<f32>;
    type Output = Array2<f32>;

    fn output_specs() -> &'static [TensorSpec] {
        output_specs()
    }
    fn output_names() -> &'static [&'static str] {
        &["dense_1"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        check_dense_input("words", &TensorSpec::dense(vec![Dim::Known(FEATURES)]), &x)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        gather_rows(x, rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch.view()
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = as_rows(x);
        let h1 = Layer::call(&self.dense, h0.view().into());
        vec![Layer::call(&self.dense_1, h1.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 1])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        Layer::forward(&mut self.dense, x.into(), &mut Default::default());
        Layer::forward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            &mut Default::default(),
        );
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense_1)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        Layer::backward(
            &mut self.dense_1,
            Layer::output(&self.dense).into(),
            grad_output,
            true,
        );
        Layer::backward(
            &mut self.dense,
            x.into(),
            Layer::grad_input(&self.dense_1),
            false,
        );
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        Layer::visit_params(&mut self.dense, "dense", f);
        Layer::visit_params(&mut self.dense_1, "dense_1", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        Layer::visit_weights(&self.dense, "dense", f);
        Layer::visit_weights(&self.dense_1, "dense_1", f);
    }
}

/// A bag of words: 3 to 5 distinct words per sample out of 20; the label says whether the
/// sample has more words from the first half of the vocabulary than from the second.
fn corpus(n: usize, seed: u64) -> (SparseTensor<f32>, Array2<f32>) {
    let mut rng = Rng::new(seed);
    let mut indices = Vec::new();
    let mut values = Vec::new();
    let mut labels = Array2::zeros((n, 1));
    for row in 0..n {
        let mut words: Vec<usize> = (0..FEATURES).collect();
        rng.shuffle(&mut words);
        let count = 3 + rng.below(3);
        let mut words = words[..count].to_vec();
        words.sort_unstable();
        let low = words.iter().filter(|&&w| w < FEATURES / 2).count();
        labels[[row, 0]] = if 2 * low > count { 1.0 } else { 0.0 };
        for w in words {
            indices.extend([row as i64, w as i64]);
            values.push(1.0 + rng.next_f32());
        }
    }
    let indices = Array2::from_shape_vec((values.len(), 2), indices).expect("pairs");
    let x = SparseTensor::from_coo(
        indices.view(),
        ndarray::Array1::from(values).view(),
        &[n as i64, FEATURES as i64],
        SparseOptions::default(),
    )
    .expect("canonical by construction");
    (x, labels)
}

fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: length");
    for (i, (p, q)) in a.iter().zip(b).enumerate() {
        assert!(
            (p - q).abs() <= tol * (1.0 + q.abs()),
            "{what}[{i}]: sparse {p}, dense {q}"
        );
    }
}

#[test]
fn fit_evaluate_predict_on_sparse_data_match_the_dense_path() {
    let (x, y) = corpus(200, 11);
    let xd: Array2<f32> = x
        .to_dense()
        .unwrap()
        .into_dimensionality()
        .expect("a matrix");
    let mut sparse =
        SparseClassifier::with_seed(3).compile(Adam::new(0.01), Loss::binary_crossentropy());
    let (dense, dense_1) = layers(3);
    let mut dense =
        DenseClassifier { dense, dense_1 }.compile(Adam::new(0.01), Loss::binary_crossentropy());
    let options = FitOptions::default()
        .epochs(8)
        .batch_size(16)
        .seed(5)
        .verbose(0);
    let hs = sparse.fit(&x, y.view(), &options).unwrap();
    let hd = dense.fit(xd.view(), y.view(), &options).unwrap();
    assert_close("loss per epoch", hs.loss(), hd.loss(), 1e-4);
    // It learned: the task is linearly separable in the word counts.
    assert!(
        hs.loss()[7] < 0.6 * hs.loss()[0],
        "loss did not fall: {:?}",
        hs.loss()
    );
    for ((ks, ws), (kd, wd)) in sparse
        .model()
        .weights()
        .iter()
        .zip(dense.model().weights().iter())
    {
        assert_eq!(ks, kd);
        let (ws, wd) = (
            ws.iter().copied().collect::<Vec<_>>(),
            wd.iter().copied().collect::<Vec<_>>(),
        );
        assert_close(ks, &ws, &wd, 1e-4);
    }
    let es = sparse.evaluate(&x, y.view(), 32).unwrap();
    let ed = dense.evaluate(xd.view(), y.view(), 32).unwrap();
    assert_close("evaluate", &[es.loss], &[ed.loss], 1e-4);
    let ps = sparse.predict(&x).unwrap();
    let pd = dense.predict(xd.view()).unwrap();
    assert_eq!(ps.dim(), (200, 1));
    assert_close(
        "predict",
        ps.as_slice().unwrap(),
        pd.as_slice().unwrap(),
        1e-4,
    );
    // One step on a contiguous slice of the batch, as `train_on_batch` takes it.
    let batch = x.slice_rows(0..32).unwrap();
    let yb = y.slice(ndarray::s![0..32, ..]);
    let l1 = sparse.train_on_batch(&batch, yb).unwrap();
    let l2 = sparse.train_on_batch(&batch, yb).unwrap();
    assert!(l1.is_finite() && l2 < l1, "{l1} then {l2}");
}

#[test]
fn a_sparse_input_of_the_wrong_shape_is_refused_by_name() {
    let model = SparseClassifier::with_seed(0);
    let x = SparseTensor::from_dense(Array2::<f32>::eye(7).view()).unwrap();
    match model.predict(&x) {
        Err(Error::InputShape {
            input,
            expected,
            actual,
            ..
        }) => {
            assert_eq!(input, "words");
            assert_eq!(expected, "(None, 20)");
            assert_eq!(actual, vec![7, 7]);
        }
        other => panic!("{other:?}"),
    }
    // Targets are checked against the sparse input's sample count as for a dense one.
    let (x, _) = corpus(10, 1);
    let mut c = model.compile(Adam::new(0.01), Loss::binary_crossentropy());
    let y = Array2::<f32>::zeros((9, 1));
    assert!(matches!(
        c.fit(&x, y.view(), &FitOptions::default().verbose(0)),
        Err(Error::SampleCount {
            inputs: 10,
            targets: 9
        })
    ));
}

#[test]
fn equality_compares_which_row_each_entry_is_in() {
    // The same shape, columns and values; the entry in another row.
    let a = SparseTensor::from_dense(ndarray::array![[1.0f32, 0.0], [0.0, 0.0]].view()).unwrap();
    let b = SparseTensor::from_dense(ndarray::array![[0.0f32, 0.0], [1.0, 0.0]].view()).unwrap();
    assert_ne!(a, b);
    let c = SparseTensor::from_dense(ndarray::array![[1.0f32, 0.0], [0.0, 0.0]].view()).unwrap();
    assert_eq!(a, c);
}

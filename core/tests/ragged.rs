//! Ragged inputs end to end, through a `Model` written by hand exactly as `model!` will
//! generate it for
//! `input(shape = [None], ragged = true, dtype = i32) -> embedding(V, D) -> global_average_pooling_1d() -> dense(1)`:
//! parity with Keras 3 (tests/fixtures/ragged_embedding_mean.json), one SGD step checked
//! against the gradient worked out by hand, training through `fit`, and the input checks.

mod common;

use common::{array, array2, close, fixture};
use ndarray::{Array1, Array2, ArrayView2};
use serde_json::Value;
use stratic_core::shape::{
    layer_spec, DType, DenseConfig, Dim, EmbeddingConfig, Layout, PoolingMode, RuleInput,
    TensorSpec,
};
use stratic_core::{
    check_ragged_ids, check_ragged_input, rows_to_output, Adam, Dense, Embedding, Error,
    FitOptions, GlobalPooling, Input, Layer, Loss, Model, ParamMut, ParamRef, RaggedTensor, Rng,
    SGD,
};

const INPUT_DIM: usize = 10;
const OUTPUT_DIM: usize = 3;

fn input_spec() -> &'static TensorSpec {
    static SPEC: std::sync::OnceLock<TensorSpec> = std::sync::OnceLock::new();
    SPEC.get_or_init(|| TensorSpec {
        batch: Dim::Unknown,
        dims: vec![Dim::Unknown],
        dtype: DType::I32,
        layout: Layout::Ragged,
    })
}

/// What the macro generates for the model above (V = 10, D = 3).
struct TextClassifier {
    embedding: Embedding,
    global_average_pooling1d: GlobalPooling,
    dense: Dense,
}

impl TextClassifier {
    fn with_seed(seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        TextClassifier {
            embedding: Embedding::build(EmbeddingConfig::new(INPUT_DIM, OUTPUT_DIM), &mut rng),
            global_average_pooling1d: GlobalPooling::new(PoolingMode::Average),
            dense: Dense::build(DenseConfig::new(1), OUTPUT_DIM, &mut rng),
        }
    }
}

impl Model for TextClassifier {
    type Input<'a> = &'a RaggedTensor<i32>;
    type Batch = RaggedTensor<i32>;
    type Output = Array2<f32>;

    fn output_specs() -> &'static [TensorSpec] {
        static SPEC: std::sync::OnceLock<[TensorSpec; 1]> = std::sync::OnceLock::new();
        SPEC.get_or_init(|| [TensorSpec::dense(vec![Dim::Known(1)])])
    }
    fn output_names() -> &'static [&'static str] {
        &["dense"]
    }
    fn check_input(x: Self::Input<'_>) -> Result<usize, Error> {
        let n = check_ragged_input("input", input_spec(), x)?;
        // Ids are checked against every embedding the input feeds, before any computation.
        check_ragged_ids("embedding", INPUT_DIM, x)?;
        Ok(n)
    }
    fn gather(x: Self::Input<'_>, rows: &[usize], out: &mut Self::Batch) {
        x.gather_rows(rows, out)
    }
    fn batch_view(batch: &Self::Batch) -> Self::Input<'_> {
        batch
    }
    fn call(&self, x: Self::Input<'_>) -> Vec<Array2<f32>> {
        let h0 = x.view();
        let h1 = self.embedding.call_ragged(h0);
        let h2 = self
            .global_average_pooling1d
            .call_ragged(h0.with_values(h1.view()));
        vec![Layer::call(&self.dense, h2.view().into())]
    }
    fn to_output(outputs: Vec<Array2<f32>>, n: usize) -> Self::Output {
        let out = outputs.into_iter().next().unwrap_or_default();
        rows_to_output(out, &[n, 1])
    }
    fn forward_train(&mut self, x: Self::Input<'_>) {
        let h0 = x.view();
        self.embedding.forward_train_ragged(h0);
        self.global_average_pooling1d
            .forward_train_ragged(h0.with_values(self.embedding.output()));
        Layer::forward(
            &mut self.dense,
            self.global_average_pooling1d.output().into(),
            &mut Default::default(),
        );
    }
    fn train_output(&mut self, _index: usize) -> ArrayView2<'_, f32> {
        Layer::output(&self.dense)
    }
    fn backward(&mut self, x: Self::Input<'_>, grad_outputs: &[Array2<f32>]) {
        let grad_output = grad_outputs[0].view();
        let h0 = x.view();
        Layer::backward(
            &mut self.dense,
            self.global_average_pooling1d.output().into(),
            grad_output,
            true,
        );
        self.global_average_pooling1d.backward_ragged(
            h0.with_values(self.embedding.output()),
            Layer::grad_input(&self.dense),
        );
        self.embedding
            .backward_ragged(h0, self.global_average_pooling1d.grad_input());
    }
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_>)) {
        self.embedding.visit_params("embedding", f);
        Layer::visit_params(&mut self.dense, "dense", f);
    }
    fn visit_weights(&self, f: &mut dyn FnMut(ParamRef<'_>)) {
        self.embedding.visit_weights("embedding", f);
        Layer::visit_weights(&self.dense, "dense", f);
    }
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("list")
        .iter()
        .map(|x| x.as_i64().expect("int"))
        .collect()
}

/// The fixture's tensor and a model holding its weights.
fn keras_case() -> (Value, RaggedTensor<i32>, TextClassifier) {
    let f = fixture("ragged_embedding_mean.json");
    let values: Vec<i32> = ints(&f["values"]).iter().map(|&v| v as i32).collect();
    let x = RaggedTensor::from_row_splits(values, &ints(&f["row_splits"])).expect("valid");
    let mut model = TextClassifier::with_seed(0);
    model
        .embedding
        .set_embeddings(array2(&f["embeddings"]).view())
        .unwrap();
    model.dense.set_kernel(array2(&f["kernel"]).view()).unwrap();
    let bias: Array1<f32> = array(&f["bias"]).into_dimensionality().unwrap();
    model.dense.set_bias(bias.view()).unwrap();
    (f, x, model)
}

#[test]
fn predict_matches_keras() {
    let (f, x, model) = keras_case();
    let out = model.predict(&x).unwrap();
    close("output", &out.into_dyn(), &array(&f["output"]));
    // The pooled vectors too, through the layers' own API.
    let pooled = model.global_average_pooling1d.call_ragged(
        x.view()
            .with_values(model.embedding.call_ragged(x.view()).view()),
    );
    close("pooled", &pooled.into_dyn(), &array(&f["pooled"]));
}

#[test]
fn shape_rules_describe_the_runtime() {
    let rule = |layer: &str, config: stratic_core::shape::Config, input: &TensorSpec| {
        let spec = layer_spec(layer).unwrap();
        spec.output_spec(&RuleInput {
            name: layer,
            config: &config,
            inputs: std::slice::from_ref(input),
        })
        .unwrap()
    };
    let emb = rule(
        "embedding",
        EmbeddingConfig::new(INPUT_DIM, OUTPUT_DIM).to_config(),
        input_spec(),
    );
    let pool = layer_spec("global_average_pooling_1d").unwrap();
    let pooled = rule(pool.name, pool.configure(vec![]), &emb);
    let out = rule("dense", DenseConfig::new(1).to_config(), &pooled);
    assert_eq!(&out, &TextClassifier::output_specs()[0]);
    let (_, x, model) = keras_case();
    let h = model.embedding.call_ragged(x.view());
    assert_eq!(h.ncols(), OUTPUT_DIM);
    assert_eq!(h.nrows(), x.n_values());
}

/// `fit` with SGD over the whole batch: the weights after one step are those worked out by
/// hand (in f64) from the forward values, with the sparse embedding gradient
/// dL/dE[id] = sum over the id's occurrences of dL/dpooled[row] / len(row).
#[test]
fn one_sgd_step_updates_only_the_rows_used() {
    let (f, x, model) = keras_case();
    let y = ndarray::arr2(&[[1.0f32], [0.0], [0.5], [2.0]]);
    let e0 = array2(&f["embeddings"]);
    let k0 = array2(&f["kernel"]);
    let b0 = array(&f["bias"]);
    let out = array2(&f["output"]);
    let lr = 0.1f64;
    let n = 4.0f64;
    // MSE over 4 samples, 1 output: dL/dout = 2 (out - y) / 4.
    let dout: Vec<f64> = (0..4)
        .map(|i| 2.0 * (out[[i, 0]] as f64 - y[[i, 0]] as f64) / n)
        .collect();
    let splits = x.row_splits().to_vec();
    let mut e_want = e0.mapv(|v| v as f64);
    for (i, w) in splits.windows(2).enumerate() {
        let len = (w[1] - w[0]) as f64;
        for p in w[0]..w[1] {
            let id = x.flat_values()[p] as usize;
            for j in 0..OUTPUT_DIM {
                e_want[[id, j]] -= lr * dout[i] * k0[[j, 0]] as f64 / len;
            }
        }
    }
    let pooled = array2(&f["pooled"]);
    let mut k_want = k0.mapv(|v| v as f64);
    for j in 0..OUTPUT_DIM {
        let g: f64 = (0..4).map(|i| dout[i] * pooled[[i, j]] as f64).sum();
        k_want[[j, 0]] -= lr * g;
    }
    let b_want = b0[[0]] as f64 - lr * dout.iter().sum::<f64>();

    let mut compiled = model.compile(SGD::new(lr as f32), Loss::mse());
    let options = FitOptions::default()
        .batch_size(4)
        .shuffle(false)
        .verbose(0);
    compiled.fit(&x, y.view(), &options).unwrap();
    let m = compiled.model();
    close(
        "embeddings",
        &m.embedding.embeddings().to_owned().into_dyn(),
        &e_want.mapv(|v| v as f32).into_dyn(),
    );
    // Id 2 is not in the batch: its row has no gradient and SGD leaves it exactly as it was.
    assert_eq!(m.embedding.embeddings().row(2), e0.row(2));
    assert_eq!(m.embedding.touched_rows().len(), 9);
    close(
        "kernel",
        &m.dense.kernel().to_owned().into_dyn(),
        &k_want.mapv(|v| v as f32).into_dyn(),
    );
    let b = m.dense.bias().unwrap()[0];
    assert!((b as f64 - b_want).abs() < 1e-6, "{b} vs {b_want}");
}

#[test]
fn fit_learns_a_token_rule_with_adam() {
    // Label: whether the sequence holds token 7. Lengths 1..=8, vocabulary 10.
    let mut rng = Rng::new(11);
    let mut rows = Vec::new();
    let mut labels = Vec::new();
    for _ in 0..256 {
        let len = 1 + rng.below(8);
        let row: Vec<i32> = (0..len).map(|_| rng.below(INPUT_DIM) as i32).collect();
        labels.push(if row.contains(&7) { 1.0f32 } else { 0.0 });
        rows.push(row);
    }
    let x = RaggedTensor::from_rows(&rows).unwrap();
    let y = Array2::from_shape_vec((256, 1), labels).unwrap();
    let mut compiled = TextClassifier::with_seed(3).compile(
        Adam::new(0.05),
        Loss::BinaryCrossentropy {
            from_logits: true,
            label_smoothing: 0.0,
        },
    );
    let options = FitOptions::default().epochs(30).seed(1).verbose(0);
    let history = compiled.fit(&x, y.view(), &options).unwrap();
    let loss = history.loss();
    assert!(
        loss[29] < 0.6 * loss[0],
        "loss went from {} to {}",
        loss[0],
        loss[29]
    );
    let eval = compiled.evaluate(&x, y.view(), 64).unwrap().loss;
    assert!(eval < 0.6 * loss[0], "{eval}");
    // predict: one logit per sequence.
    assert_eq!(compiled.predict(&x).unwrap().dim(), (256, 1));
}

#[test]
fn bad_ids_and_shapes_are_errors_naming_the_position() {
    let model = TextClassifier::with_seed(0);
    let x = RaggedTensor::from_rows(&[vec![1, 2], vec![3, 10, 4]]).unwrap();
    assert_eq!(
        model.predict(&x).unwrap_err(),
        Error::IdOutOfRange {
            layer: "embedding".into(),
            id: 10,
            position: vec![1, 1],
            input_dim: INPUT_DIM,
        }
    );
    let msg = model.predict(&x).unwrap_err().to_string();
    assert!(msg.contains("id 10 at position [1, 1]"), "{msg}");
    let x = RaggedTensor::from_rows(&[vec![-3]]).unwrap();
    assert!(matches!(
        model.predict(&x),
        Err(Error::IdOutOfRange { id: -3, .. })
    ));
    // Ragged rank 2 where rank 1 was declared.
    let nested = RaggedTensor::from_nested_rows(&[vec![vec![1]]]).unwrap();
    assert!(matches!(
        model.predict(&nested),
        Err(Error::InputShape { .. })
    ));
    // fit refuses them before touching the weights.
    let before = model.embedding.embeddings().to_owned();
    let mut compiled = model.compile(SGD::new(0.1), Loss::mse());
    let bad = RaggedTensor::from_rows(&[vec![1], vec![99]]).unwrap();
    let y = Array2::<f32>::zeros((2, 1));
    let options = FitOptions::default().verbose(0);
    assert!(compiled.fit(&bad, y.view(), &options).is_err());
    assert_eq!(compiled.model().embedding.embeddings(), before);
    // Empty sequences are valid and pool to zero.
    let empty = RaggedTensor::from_rows(&[vec![], vec![1]]).unwrap();
    let out = compiled.predict(&empty).unwrap();
    let bias = compiled.model().dense.bias().unwrap()[0];
    assert_eq!(out[[0, 0]], bias);
}

// Dense on a ragged tensor (core/src/runtime/layers/dense_ragged.rs): the backward's kernel,
// bias and input gradients against central finite differences of
// L = sum(output * probe), through a non-linear activation, on rows of lengths 2, 0 and 3.
#[test]
fn ragged_dense_backward_matches_finite_differences() {
    use stratic_core::shape::Activation;
    let values: Vec<f32> = (0..10)
        .map(|i| ((i * 7) % 11) as f32 / 11.0 - 0.4)
        .collect();
    let x = RaggedTensor::from_parts(values, &[2], &[[0usize, 2, 2, 5]]).unwrap();
    let mut config = DenseConfig::new(3);
    config.activation = Activation::Tanh;
    let mut d = Dense::build(config, 2, &mut Rng::new(11));
    let bias = Array1::from(vec![0.1f32, -0.2, 0.3]);
    d.set_bias(bias.view()).unwrap();
    let probe = Array2::from_shape_fn((5, 3), |(i, j)| ((i * 3 + j) % 4) as f32 - 1.5);
    let objective = |d: &Dense, x: &RaggedTensor<f32>| -> f64 {
        let y = Layer::call(d, Input::Ragged(x.view()));
        y.iter()
            .zip(probe.iter())
            .map(|(a, b)| (a * b) as f64)
            .sum()
    };
    Layer::forward(&mut d, Input::Ragged(x.view()), &mut Default::default());
    // The training forward computes what inference does, with the input's partitions.
    let out = x.view().with_values(Layer::output(&d));
    assert_eq!(out.nested_row_splits(), x.nested_row_splits());
    assert_eq!(
        out.values().to_owned(),
        Layer::call(&d, Input::Ragged(x.view()))
    );
    Layer::backward(&mut d, Input::Ragged(x.view()), probe.view(), true);
    let (gk, gb, gx) = (
        d.grad_kernel().to_owned(),
        d.grad_bias().to_owned(),
        Layer::grad_input(&d).to_owned(),
    );
    assert_eq!((gk.dim(), gb.len(), gx.dim()), ((2, 3), 3, (5, 2)));
    let h = 1e-2f32;
    let check = |what: &str, analytic: f32, up: f64, down: f64| {
        let numeric = (up - down) / (2.0 * h as f64);
        assert!(
            (numeric - analytic as f64).abs() < 2e-3 * (1.0 + numeric.abs()),
            "{what}: analytic {analytic}, numeric {numeric}"
        );
    };
    for i in 0..2 {
        for j in 0..3 {
            let mut k = d.kernel().to_owned();
            let mut probe_at = |delta: f32| {
                let mut e = d.clone();
                k[[i, j]] += delta;
                e.set_kernel(k.view()).unwrap();
                k[[i, j]] -= delta;
                objective(&e, &x)
            };
            let (up, down) = (probe_at(h), probe_at(-h));
            check(&format!("kernel[{i},{j}]"), gk[[i, j]], up, down);
        }
    }
    for j in 0..3 {
        let at = |delta: f32| {
            let mut b = bias.clone();
            b[j] += delta;
            let mut e = d.clone();
            e.set_bias(b.view()).unwrap();
            objective(&e, &x)
        };
        let (up, down) = (at(h), at(-h));
        check(&format!("bias[{j}]"), gb[j], up, down);
    }
    for r in 0..5 {
        for c in 0..2 {
            let at = |delta: f32| {
                let mut moved = x.clone();
                moved.flat_values_mut()[r * 2 + c] += delta;
                objective(&d, &moved)
            };
            let (up, down) = (at(h), at(-h));
            check(&format!("input[{r},{c}]"), gx[[r, c]], up, down);
        }
    }
    // Without the input gradient asked for, the weight gradients are the same.
    let mut e = d.clone();
    Layer::forward(&mut e, Input::Ragged(x.view()), &mut Default::default());
    Layer::backward(&mut e, Input::Ragged(x.view()), probe.view(), false);
    assert_eq!(e.grad_kernel(), gk.view());
    assert_eq!(e.grad_bias(), gb.view());
}

#[test]
fn a_bad_id_inside_an_inner_block_is_named_by_its_full_position() {
    // Rows of values of shape [2]: flat id 5 is value 2 (row 1, index 0 in the row), inner
    // position 1.
    let ids =
        RaggedTensor::from_parts(vec![1, 2, 3, 4, 5, 77, 6, 7], &[2], &[[0usize, 2, 4]]).unwrap();
    assert_eq!(
        check_ragged_ids("embedding", INPUT_DIM, &ids).unwrap_err(),
        Error::IdOutOfRange {
            layer: "embedding".into(),
            id: 77,
            position: vec![1, 0, 1],
            input_dim: INPUT_DIM,
        }
    );
}

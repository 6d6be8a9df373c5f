//! The conformance test (Keras' `run_layer_test`): every registered layer, built from its
//! spec's default configuration on every input layout its spec accepts, runs forward and
//! backward, and its real output shape and weights are those its spec states.

use ndarray::Array2;
use stratic_core::shape::{
    Arity, Config, DType, DTypeClass, Dim, LayerSpec, Layout, ParamDefault, ParamKind, ParamValue,
    RuleInput, TensorSpec, LAYERS,
};
use stratic_core::{
    build_dyn, BuildLayer, ForwardContext, Input, Merge, MergeLayer, RaggedTensor, Rng,
    SparseTensor,
};

const BATCH: usize = 3;
/// The longest of the example ragged rows (lengths 2, 0, 3).
const LONGEST_ROW: usize = 3;

/// The spec's defaults, with a small value for each required parameter.
fn example_config(spec: &LayerSpec) -> Config {
    let given = spec
        .params
        .iter()
        .filter(|p| p.default == ParamDefault::Required)
        .filter_map(|p| {
            let v = match p.kind {
                ParamKind::PositiveInt | ParamKind::Int => ParamValue::Int(3),
                ParamKind::Number => ParamValue::Float(0.5),
                ParamKind::Bool => ParamValue::Bool(true),
                ParamKind::Activation => {
                    ParamValue::Activation(stratic_core::shape::Activation::Tanh)
                }
                // A reshape must keep the count of any example input: infer its one axis.
                ParamKind::Ints if p.name == "target_shape" => ParamValue::Ints(vec![-1].into()),
                ParamKind::Ints => ParamValue::Ints(vec![2].into()),
                ParamKind::Choice(names) => ParamValue::Str(names[0].into()),
                ParamKind::Tensors => return None,
                // A time-distributed dense layer, on each step.
                ParamKind::Layer if spec.name == "time_distributed" => {
                    let dense = stratic_core::shape::layer_spec("dense").expect("registered");
                    let config = dense.configure(vec![("units", ParamValue::Int(3))]);
                    ParamValue::Layer(dense.name.into(), config.values().to_vec().into())
                }
                // A wrapper's example: the recurrent layer a bidirectional takes.
                ParamKind::Layer => {
                    let gru = stratic_core::shape::layer_spec("gru").expect("gru is registered");
                    let config = gru.configure(vec![
                        ("units", ParamValue::Int(3)),
                        ("return_sequences", ParamValue::Bool(true)),
                    ]);
                    ParamValue::Layer(gru.name.into(), config.values().to_vec().into())
                }
                other => panic!("layer `{}`: no example for a required {other:?}", spec.name),
            };
            Some((p.name, v))
        })
        .collect();
    spec.configure(given)
}

/// An input of `layout` the spec admits, with known dims (ragged axis 1 for ragged layouts).
fn example_spec(spec: &LayerSpec, layout: Layout) -> TensorSpec {
    let ids = spec.input.dtype == DTypeClass::Integer;
    // A ragged tensor of floats carries a known feature axis after its ragged one; ids do not.
    let ndim = match layout {
        Layout::Ragged if !ids => spec.input.min_ndim.max(3),
        _ => spec.input.min_ndim.max(2),
    };
    let mut dims: Vec<Dim> = (1..ndim).map(|i| Dim::Known(2 + i)).collect();
    if layout == Layout::Ragged {
        dims[0] = Dim::Unknown;
    }
    TensorSpec {
        batch: Dim::Unknown,
        dims,
        dtype: match spec.input.dtype {
            DTypeClass::Integer => DType::I32,
            _ => DType::F32,
        },
        layout,
    }
}

/// Values for `spec` with `BATCH` samples (ragged rows of lengths 2, 0, 3).
enum Value {
    Dense(Array2<f32>),
    Sparse(SparseTensor<f32>),
    Ragged(RaggedTensor<f32>),
    Ids(RaggedTensor<i32>),
    /// Dense ids, as rows (`(batch · ..., last)`).
    DenseIds(Array2<i32>),
}

impl Value {
    fn input(&self) -> Input<'_> {
        match self {
            Value::Dense(x) => Input::Dense(x.view()),
            Value::Sparse(x) => Input::Sparse(x),
            Value::Ragged(x) => Input::Ragged(x.view()),
            Value::Ids(x) => Input::RaggedIds(x.view()),
            Value::DenseIds(x) => Input::Ids(x.view()),
        }
    }

    /// The rows of the input, as the layer sees them.
    fn rows(&self) -> usize {
        self.input().n_rows()
    }
}

fn example_value(spec: &TensorSpec, rng: &mut Rng) -> Value {
    let inner: Vec<usize> = spec.dims.iter().filter_map(|d| d.known()).collect();
    let last = *inner.last().unwrap_or(&1);
    match spec.layout {
        Layout::Dense if spec.dtype == DType::I32 => {
            let rows = BATCH * inner[..inner.len() - 1].iter().product::<usize>();
            Value::DenseIds(Array2::from_shape_fn((rows, last), |(r, c)| {
                ((r + c) % 3) as i32
            }))
        }
        Layout::Dense => {
            let rows = BATCH * inner[..inner.len() - 1].iter().product::<usize>();
            Value::Dense(Array2::from_shape_fn((rows, last), |_| {
                rng.uniform(-1.0, 1.0)
            }))
        }
        Layout::Sparse => {
            let mut dense = Array2::zeros((BATCH, last));
            dense[[0, 0]] = 0.5f32;
            dense[[1, last - 1]] = -1.0;
            dense[[2, 1]] = 2.0;
            Value::Sparse(SparseTensor::from_dense(dense.view()).expect("sparse example"))
        }
        Layout::Ragged => {
            let splits = [0usize, 2, 2, 5];
            if spec.dtype == DType::I32 {
                let ids: Vec<i32> = (0..5).map(|i| i % 3).collect();
                Value::Ids(RaggedTensor::from_parts(ids, &[], &[splits]).expect("ids"))
            } else {
                let per_value: usize = inner.iter().product();
                let values: Vec<f32> = (0..5 * per_value).map(|_| rng.uniform(-1.0, 1.0)).collect();
                Value::Ragged(
                    RaggedTensor::from_parts(values, &inner, &[splits]).expect("ragged example"),
                )
            }
        }
    }
}

/// The rows a dense output of `spec` has for `BATCH` samples, or the flat rows of a ragged one.
fn expected_rows(out: &TensorSpec, input: &Value) -> usize {
    match out.layout {
        Layout::Ragged => match input {
            Value::Ragged(x) => x.n_values(),
            Value::Ids(x) => x.n_values(),
            _ => unreachable!("a ragged output comes from a ragged input"),
        },
        _ => {
            let middle = &out.dims[..out.dims.len().saturating_sub(1)];
            // An axis known only at run time is a padded ragged one: its longest row.
            BATCH
                * middle
                    .iter()
                    .map(|d| d.known().unwrap_or(LONGEST_ROW))
                    .product::<usize>()
        }
    }
}

fn check_one_input(spec: &'static LayerSpec, layout: Layout, rng: &mut Rng) -> bool {
    let config = example_config(spec);
    let input_spec = example_spec(spec, layout);
    let inputs = [input_spec.clone()];
    let rule = RuleInput {
        name: spec.name,
        config: &config,
        inputs: &inputs,
    };
    let Ok(out) = spec.output_spec(&rule) else {
        return false;
    };
    if (spec.runs)(&rule).is_err() {
        return false;
    }
    let mut layer = build_dyn(spec, &config, &inputs, rng).unwrap_or_else(|| {
        panic!(
            "layer `{}`: runtime type `{}` not registered",
            spec.name, spec.runtime
        )
    });
    let value = example_value(&input_spec, rng);
    let y = layer.call(value.input());
    let what = format!("layer `{}` on {input_spec}", spec.name);
    assert_eq!(
        y.dim(),
        (expected_rows(&out, &value), out.last().known().unwrap_or(0)),
        "{what}: output rows and features against the rule's {out}"
    );
    // A forward outside training computes the inference output; a training forward may
    // differ by design (dropout, batch statistics), so only its shape is checked.
    let mut inference = ForwardContext {
        training: false,
        ..ForwardContext::default()
    };
    layer.forward(value.input(), &mut inference);
    assert_eq!(
        layer.output(),
        y,
        "{what}: a forward outside training computes the inference output"
    );
    layer.forward(value.input(), &mut ForwardContext::default());
    assert_eq!(
        layer.output().dim(),
        y.dim(),
        "{what}: the training forward's output shape"
    );
    let g = Array2::from_elem(y.dim(), 1.0f32);
    layer.backward(value.input(), g.view(), true);
    if let Some(rows) = value.input().rows() {
        assert_eq!(
            layer.grad_input().dim(),
            rows.dim(),
            "{what}: input gradient"
        );
    }
    assert!(value.rows() > 0);
    let mut seen = Vec::new();
    layer.visit_weights(spec.name, &mut |p| {
        seen.push((p.variable.to_string(), p.shape.to_vec(), p.trainable));
    });
    let declared: Vec<_> = spec
        .weight_specs(&rule)
        .into_iter()
        .map(|w| (w.name.to_string(), w.shape, w.trainable))
        .collect();
    assert_eq!(seen, declared, "{what}: weights against the spec");
    let mut trainable = 0;
    layer.visit_params(spec.name, &mut |p| {
        assert_eq!(
            p.value.len(),
            p.grad.len(),
            "{what}: {} has its gradient",
            p.variable
        );
        trainable += 1;
    });
    assert_eq!(
        trainable,
        declared.iter().filter(|w| w.2).count(),
        "{what}: trainable weights"
    );
    true
}

/// Every trainable weight's gradient, in visiting order.
fn grads(layer: &mut dyn stratic_core::Layer) -> Vec<Vec<f32>> {
    let mut out = Vec::new();
    layer.visit_params("l", &mut |p| out.push(p.grad.to_vec()));
    out
}

/// A shared layer (two uses) computes each use as the layer alone would, and its weight
/// gradients are the sum over the uses.
fn check_sharing(spec: &'static LayerSpec, layout: Layout, rng: &mut Rng) {
    let config = example_config(spec);
    let input_spec = example_spec(spec, layout);
    let inputs = [input_spec.clone()];
    let seed = rng.next_u64();
    let build = || build_dyn(spec, &config, &inputs, &mut Rng::new(seed)).expect("runtime layer");
    let (mut shared, mut alone) = (build(), build());
    let (x0, x1) = (
        example_value(&input_spec, rng),
        example_value(&input_spec, rng),
    );
    let what = format!("shared layer `{}` on {input_spec}", spec.name);
    shared.set_uses(2);
    let mut cx = ForwardContext::default();
    for (i, x) in [&x0, &x1].into_iter().enumerate() {
        shared.select_use(i);
        shared.forward(x.input(), &mut cx);
    }
    let g = |layer: &dyn stratic_core::Layer| Array2::from_elem(layer.output().dim(), 0.5f32);
    let mut expected: Vec<Vec<f32>> = Vec::new();
    let mut expected_grad_input = None;
    for (i, x) in [&x0, &x1].into_iter().enumerate() {
        shared.select_use(i);
        assert_eq!(
            shared.output(),
            alone.call(x.input()),
            "{what}: use {i}'s output"
        );
        alone.forward(x.input(), &mut cx);
        let gi = g(alone.as_ref());
        alone.backward(x.input(), gi.view(), true);
        let gs = grads(alone.as_mut());
        if i == 0 {
            expected = gs;
            expected_grad_input = Some(alone.grad_input().to_owned());
        } else {
            for (e, g) in expected.iter_mut().zip(gs) {
                e.iter_mut().zip(g).for_each(|(e, g)| *e += g);
            }
        }
    }
    // Backward in reverse use order, as a model runs it: the last use first, then the others
    // adding to its gradients.
    for (i, x) in [(1, &x1), (0, &x0)] {
        shared.select_use(i);
        shared.set_accumulate(i == 0);
        let gi = g(shared.as_ref());
        shared.backward(x.input(), gi.view(), true);
    }
    if let Some(e) = expected_grad_input {
        assert_eq!(
            shared.grad_input(),
            e.view(),
            "{what}: use 0's input gradient"
        );
    }
    for (got, want) in grads(shared.as_mut()).iter().zip(&expected) {
        for (g, w) in got.iter().zip(want) {
            assert!(
                (g - w).abs() <= 1e-5 * w.abs().max(1.0),
                "{what}: gradient {g} against {w}"
            );
        }
    }
}

fn check_merge(spec: &'static LayerSpec, rng: &mut Rng) {
    let config = example_config(spec);
    let input = TensorSpec::dense(vec![Dim::Known(4)]);
    let inputs = [input.clone(), input];
    let rule = RuleInput {
        name: spec.name,
        config: &config,
        inputs: &inputs,
    };
    let out = spec
        .output_spec(&rule)
        .unwrap_or_else(|e| panic!("merge `{}` on two (None, 4): {e}", spec.name));
    let mut merge = Merge::from_config(spec, &config, &inputs, rng);
    let xs: Vec<Array2<f32>> = (0..2)
        .map(|_| Array2::from_shape_fn((BATCH, 4), |_| rng.uniform(-1.0, 1.0)))
        .collect();
    let views: Vec<_> = xs.iter().map(|x| x.view()).collect();
    let y = merge.call(&views);
    assert_eq!(
        y.dim(),
        (BATCH, out.last().known().unwrap_or(0)),
        "merge `{}`",
        spec.name
    );
    merge.forward_train(&views);
    assert_eq!(merge.output(), y);
    merge.backward(&views, Array2::from_elem(y.dim(), 1.0f32).view());
    for i in 0..2 {
        assert_eq!(
            merge.grad_input(i).dim(),
            (BATCH, 4),
            "merge `{}`",
            spec.name
        );
    }
    assert!(spec.weight_specs(&rule).is_empty());
}

#[test]
fn every_registered_layer_runs_as_its_spec_says() {
    let mut rng = Rng::new(7);
    for spec in LAYERS.iter().copied() {
        match spec.arity {
            Arity::Many => check_merge(spec, &mut rng),
            Arity::One => {
                let ran: Vec<Layout> = spec
                    .input
                    .layouts
                    .iter()
                    .copied()
                    .filter(|&layout| check_one_input(spec, layout, &mut rng))
                    .collect();
                assert!(
                    !ran.is_empty(),
                    "layer `{}`: no layout its spec accepts runs with the default config",
                    spec.name
                );
                if spec.shareable {
                    for &layout in &ran {
                        check_sharing(spec, layout, &mut rng);
                    }
                }
            }
        }
    }
}

#[test]
fn registry_names_are_unique_and_keras_classes_are_given() {
    let mut names: Vec<&str> = LAYERS.iter().map(|s| s.name).collect();
    names.sort_unstable();
    let n = names.len();
    names.dedup();
    assert_eq!(names.len(), n, "duplicate layer names in the registry");
    for s in LAYERS {
        assert!(
            !s.class_name.is_empty() && !s.doc.is_empty(),
            "`{}`",
            s.name
        );
    }
}

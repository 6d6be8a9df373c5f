//! Keras' windowed pooling (`MaxPooling1D/2D`, `AveragePooling1D/2D`) and the global pooling
//! of images (`GlobalMaxPooling2D`, `GlobalAveragePooling2D`): one rank-generic family, the
//! reduction taken from the layer's name, the windows from [`Window`](super::Window).

use std::borrow::Cow;

use super::conv::{channels_last, positive_per_axis, spatial_dims, windows, WindowArgs};
use super::{Padding, Window};
use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, Dim, RuleError, TensorSpec};

const PADDINGS: &[&str] = &["valid", "same"];
const DATA_FORMATS: &[&str] = &["channels_last", "channels_first"];

static POOL_PARAMS: [ParamSpec; 4] = [
    ParamSpec::optional(
        "pool_size",
        ParamKind::Ints,
        ParamValue::Ints(Cow::Borrowed(&[2])),
    )
    .positional(),
    // Keras saves the strides it resolved (the pool size when not given), which a declared
    // `None` means without being equal to it, so the key is not compared.
    ParamSpec::optional("strides", ParamKind::Ints, ParamValue::None)
        .positional()
        .not_compared(),
    ParamSpec::optional(
        "padding",
        ParamKind::Choice(PADDINGS),
        ParamValue::Str(Cow::Borrowed("valid")),
    )
    .positional(),
    ParamSpec::optional(
        "data_format",
        ParamKind::Choice(DATA_FORMATS),
        ParamValue::Str(Cow::Borrowed("channels_last")),
    ),
];

static GLOBAL_PARAMS: [ParamSpec; 1] = [ParamSpec::optional(
    "data_format",
    ParamKind::Choice(DATA_FORMATS),
    ParamValue::Str(Cow::Borrowed("channels_last")),
)];

const fn pooling(
    name: &'static str,
    class_name: &'static str,
    doc: &'static str,
    rank: usize,
    output: fn(&RuleInput<'_>) -> Result<TensorSpec, RuleError>,
) -> LayerSpec {
    LayerSpec {
        name,
        class_name,
        doc,
        params: &POOL_PARAMS,
        input: InputSpec::float(rank + 2).ndim(rank + 2),
        arity: Arity::One,
        shareable: false,
        output,
        weights: no_weights,
        runs: runs_always,
        id_bound: None,
        runtime: "Pooling",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

/// `max_pooling_1d(pool_size = 2, strides = pool_size, padding = valid)`.
pub static MAX_POOLING_1D: LayerSpec = pooling(
    "max_pooling_1d",
    "MaxPooling1D",
    "The maximum of each window of steps: `(batch, steps, channels) -> (batch, new_steps, channels)`.",
    1,
    |r| pooling_rule(r, "MaxPooling1D"),
);

/// `max_pooling_2d(pool_size = [2, 2], strides = pool_size, padding = valid)`.
pub static MAX_POOLING_2D: LayerSpec = pooling(
    "max_pooling_2d",
    "MaxPooling2D",
    "The maximum of each window: `(batch, rows, cols, channels) -> (batch, new_rows, new_cols, channels)`.",
    2,
    |r| pooling_rule(r, "MaxPooling2D"),
);

/// `average_pooling_1d(pool_size = 2, strides = pool_size, padding = valid)`.
pub static AVERAGE_POOLING_1D: LayerSpec = pooling(
    "average_pooling_1d",
    "AveragePooling1D",
    "The mean of each window of steps (padding not counted): `(batch, steps, channels) -> (batch, new_steps, channels)`.",
    1,
    |r| pooling_rule(r, "AveragePooling1D"),
);

/// `average_pooling_2d(pool_size = [2, 2], strides = pool_size, padding = valid)`.
pub static AVERAGE_POOLING_2D: LayerSpec = pooling(
    "average_pooling_2d",
    "AveragePooling2D",
    "The mean of each window (padding not counted): `(batch, rows, cols, channels) -> (batch, new_rows, new_cols, channels)`.",
    2,
    |r| pooling_rule(r, "AveragePooling2D"),
);

const fn global_2d(
    name: &'static str,
    class_name: &'static str,
    doc: &'static str,
    output: fn(&RuleInput<'_>) -> Result<TensorSpec, RuleError>,
) -> LayerSpec {
    LayerSpec {
        name,
        class_name,
        doc,
        params: &GLOBAL_PARAMS,
        input: InputSpec::float(4).ndim(4),
        arity: Arity::One,
        shareable: false,
        output,
        weights: no_weights,
        runs: runs_always,
        id_bound: None,
        runtime: "Pooling",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

/// `global_max_pooling_2d()`.
pub static GLOBAL_MAX_POOLING_2D: LayerSpec = global_2d(
    "global_max_pooling_2d",
    "GlobalMaxPooling2D",
    "The maximum over rows and columns: `(batch, rows, cols, channels) -> (batch, channels)`.",
    |r| global_rule(r, "GlobalMaxPooling2D"),
);

/// `global_average_pooling_2d()`.
pub static GLOBAL_AVERAGE_POOLING_2D: LayerSpec = global_2d(
    "global_average_pooling_2d",
    "GlobalAveragePooling2D",
    "The mean over rows and columns: `(batch, rows, cols, channels) -> (batch, channels)`.",
    |r| global_rule(r, "GlobalAveragePooling2D"),
);

/// The windows of a windowed pooling layer of Keras class `class` on `rule`'s input (one
/// window covering every position for the global ones).
pub fn pooling_windows(rule: &RuleInput<'_>, class: &str) -> Result<Vec<Window>, RuleError> {
    channels_last(rule, class)?;
    let rank = rule.input().dims.len().saturating_sub(1);
    let spatial = spatial_dims(rule, class, rank)?;
    if class.starts_with("Global") {
        // One window covering every position.
        return Ok(spatial
            .iter()
            .filter_map(|&d| Window::new(d, d, 1, 1, Padding::Valid))
            .collect());
    }
    let pool = positive_per_axis(rule, class, "pool_size", rank)?;
    let strides = if rule
        .config
        .get("strides")
        .is_none_or(|v| *v == ParamValue::None)
    {
        pool.clone()
    } else {
        positive_per_axis(rule, class, "strides", rank)?
    };
    let padding = match rule.config.str("padding") {
        "same" => Padding::Same,
        _ => Padding::Valid,
    };
    let dilation = vec![1; rank];
    let args = WindowArgs {
        what: "pool size",
        kernel: &pool,
        strides: &strides,
        dilation: &dilation,
        padding,
    };
    windows(rule, class, &spatial, &args)
}

/// Keras' `compute_output_shape` of pooling: each spatial axis becomes its window count.
fn pooling_rule(rule: &RuleInput<'_>, class: &str) -> Result<TensorSpec, RuleError> {
    let w = pooling_windows(rule, class)?;
    let mut dims: Vec<Dim> = w.iter().map(|w| Dim::Known(w.output)).collect();
    dims.push(rule.input().last());
    Ok(TensorSpec {
        dims,
        ..rule.input().clone()
    })
}

/// `(batch, rows, cols, channels) -> (batch, channels)`.
fn global_rule(rule: &RuleInput<'_>, class: &str) -> Result<TensorSpec, RuleError> {
    pooling_windows(rule, class)?;
    Ok(TensorSpec {
        dims: vec![rule.input().last()],
        ..rule.input().clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(
        layer: &'static LayerSpec,
        dims: &[usize],
        given: Vec<(&'static str, ParamValue)>,
    ) -> Result<TensorSpec, RuleError> {
        let config = layer.configure(given);
        layer.output_spec(&RuleInput {
            name: layer.name,
            config: &config,
            inputs: &[TensorSpec::dense(
                dims.iter().map(|&d| Dim::Known(d)).collect(),
            )],
        })
    }

    #[test]
    fn pooling_shapes_are_keras() {
        let out = output(&MAX_POOLING_2D, &[26, 26, 32], vec![]).unwrap();
        assert_eq!(out.shape_string(), "(None, 13, 13, 32)");
        let out = output(
            &AVERAGE_POOLING_2D,
            &[7, 5, 2],
            vec![
                ("pool_size", ParamValue::Int(3)),
                ("strides", ParamValue::Int(2)),
                ("padding", ParamValue::Str("same".into())),
            ],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 4, 3, 2)");
        let out = output(&MAX_POOLING_1D, &[9, 4], vec![]).unwrap();
        assert_eq!(out.shape_string(), "(None, 4, 4)");
        let out = output(&GLOBAL_MAX_POOLING_2D, &[5, 5, 7], vec![]).unwrap();
        assert_eq!(out.shape_string(), "(None, 7)");
    }

    #[test]
    fn pooling_refuses_bad_windows() {
        let e = output(&MAX_POOLING_2D, &[1, 8, 3], vec![]).unwrap_err();
        assert!(e.message.contains("larger than the input"), "{e}");
        let e = output(
            &MAX_POOLING_2D,
            &[8, 8, 3],
            vec![("pool_size", ParamValue::Int(0))],
        )
        .unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
        let e = output(&MAX_POOLING_2D, &[8, 8], vec![]).unwrap_err();
        assert!(e.message.contains("ndim=4"), "{e}");
    }
}

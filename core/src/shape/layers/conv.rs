//! Keras' convolutions (`Conv1D`, `Conv2D`): one rank-generic family, as Keras' `BaseConv`.
//! The window geometry ([`Window`]) is shared with the pooling layers, so output shapes are
//! computed once, with Keras' formulas.

use std::borrow::Cow;

use crate::shape::spec::{
    known_or_zero, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput, WeightSpec,
};
use crate::shape::{Activation, Arity, Config, Dim, Initializer, RuleError, TensorSpec};

/// How a window treats the borders of its input (Keras' `padding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// No padding: the window stays inside the input.
    Valid,
    /// Zero padding so that the output has `ceil(input / stride)` positions, the extra
    /// padding (if odd) after the input, as TensorFlow.
    Same,
    /// Zero padding before the input only, so that output `t` sees inputs `<= t` (conv1d).
    Causal,
}

impl Padding {
    /// The padding named `name` (`valid`, `same`, `causal`).
    pub fn from_name(name: &str) -> Option<Padding> {
        match name {
            "valid" => Some(Padding::Valid),
            "same" => Some(Padding::Same),
            "causal" => Some(Padding::Causal),
            _ => None,
        }
    }
}

/// The geometry of a sliding window along one spatial axis: sizes, steps and padding, as
/// Keras computes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window {
    /// The input's length along the axis.
    pub input: usize,
    /// The window's length.
    pub kernel: usize,
    /// The step between two windows.
    pub stride: usize,
    /// The step between two taps of the window.
    pub dilation: usize,
    /// Zeros (or ignored positions, for pooling) before the input.
    pub pad_before: usize,
    /// The number of windows: the output's length along the axis.
    pub output: usize,
}

impl Window {
    /// The window of `kernel` taps `dilation` apart, moved by `stride` over `input` with
    /// `padding`; `None` if a window would not fit (`valid` on too short an input) or sizes
    /// overflow. All sizes must be positive.
    pub fn new(
        input: usize,
        kernel: usize,
        stride: usize,
        dilation: usize,
        padding: Padding,
    ) -> Option<Window> {
        if kernel == 0 || stride == 0 || dilation == 0 {
            return None;
        }
        let span = dilation.checked_mul(kernel - 1)?.checked_add(1)?;
        let (output, pad_before) = match padding {
            Padding::Valid => {
                if input < span {
                    return None;
                }
                ((input - span) / stride + 1, 0)
            }
            Padding::Same => {
                let output = input.div_ceil(stride);
                let needed = (output.max(1) - 1).checked_mul(stride)?.checked_add(span)?;
                (output, needed.saturating_sub(input) / 2)
            }
            Padding::Causal => {
                let pad = span - 1;
                ((input.checked_add(pad)? - span) / stride + 1, pad)
            }
        };
        Some(Window {
            input,
            kernel,
            stride,
            dilation,
            pad_before,
            output,
        })
    }

    /// The input position of tap `k` of window `o`, or `None` if it falls in the padding.
    #[inline]
    pub fn tap(&self, o: usize, k: usize) -> Option<usize> {
        let p = (o * self.stride + k * self.dilation).checked_sub(self.pad_before)?;
        (p < self.input).then_some(p)
    }
}

/// The rank of a convolution or pooling layer from its DSL name (`conv1d` -> 1).
pub fn spatial_rank(name: &str) -> usize {
    if name.ends_with("1d") {
        1
    } else if name.ends_with("3d") {
        3
    } else {
        2
    }
}

/// An `Ints` parameter expanded to `rank` values (an integer alone stands for every axis);
/// `None` if the list has another length.
pub fn per_axis(config: &Config, name: &str, rank: usize) -> Option<Vec<i64>> {
    let v = config.ints(name);
    match v.len() {
        1 => Some(vec![v[0]; rank]),
        n if n == rank => Some(v),
        _ => None,
    }
}

/// The per-axis sizes of parameter `name`, each checked positive, or the error Keras gives.
pub(crate) fn positive_per_axis(
    rule: &RuleInput<'_>,
    class: &str,
    name: &str,
    rank: usize,
) -> Result<Vec<usize>, RuleError> {
    let given = rule
        .config
        .get(name)
        .map(|v| v.to_string())
        .unwrap_or_default();
    let Some(v) = per_axis(rule.config, name, rank) else {
        return Err(RuleError::new(format!(
            "The `{name}` argument of layer '{}' ({class}) must be an integer or a list of {rank} integers. Received: {name}={given}",
            rule.name
        )));
    };
    if v.iter().any(|&d| d <= 0) {
        return Err(RuleError::new(format!(
            "The `{name}` argument of layer '{}' ({class}) must be positive on every axis. Received: {name}={given}",
            rule.name
        )));
    }
    Ok(v.into_iter().map(|d| d as usize).collect())
}

/// The known spatial sizes of a `(batch, *spatial, channels)` input, or why not.
pub(crate) fn spatial_dims(
    rule: &RuleInput<'_>,
    class: &str,
    rank: usize,
) -> Result<Vec<usize>, RuleError> {
    let input = rule.input();
    let spatial: Option<Vec<usize>> = input.dims[..rank].iter().map(|d| d.known()).collect();
    spatial.ok_or_else(|| {
        RuleError::new(format!(
            "layer '{}' ({class}) needs every spatial dimension of its input known, to size its output; received {}",
            rule.name,
            input.shape_string()
        ))
    })
}

/// The window sizes of a layer, per spatial axis, and its padding.
pub(crate) struct WindowArgs<'a> {
    /// What the window is called in messages (`kernel`, `pool size`).
    pub what: &'a str,
    pub kernel: &'a [usize],
    pub strides: &'a [usize],
    pub dilation: &'a [usize],
    pub padding: Padding,
}

/// The windows along every spatial axis, or the error naming the window and the input sizes.
pub(crate) fn windows(
    rule: &RuleInput<'_>,
    class: &str,
    spatial: &[usize],
    args: &WindowArgs<'_>,
) -> Result<Vec<Window>, RuleError> {
    let WindowArgs {
        what,
        kernel,
        strides,
        dilation,
        padding,
    } = *args;
    let mut out = Vec::with_capacity(spatial.len());
    for axis in 0..spatial.len() {
        match Window::new(
            spatial[axis],
            kernel[axis],
            strides[axis],
            dilation[axis],
            padding,
        ) {
            Some(w) => out.push(w),
            None => {
                let span = dilation[axis]
                    .saturating_mul(kernel[axis] - 1)
                    .saturating_add(1);
                let dilated = if dilation[axis] > 1 {
                    format!(" (dilated to {span})")
                } else {
                    String::new()
                };
                return Err(RuleError::new(format!(
                    "layer '{}' ({class}): the {what} {kernel:?}{dilated} is larger than the input {spatial:?} along spatial axis {axis} ({} > {}) with `padding = valid`; use a smaller {what}, or `padding = same`. Full input shape received: {}",
                    rule.name,
                    span,
                    spatial[axis],
                    rule.input().shape_string()
                )));
            }
        }
    }
    Ok(out)
}

/// The refusal of `data_format = channels_first`.
pub(crate) fn channels_last(rule: &RuleInput<'_>, class: &str) -> Result<(), RuleError> {
    if rule.config.str("data_format") == "channels_first" {
        return Err(RuleError::new(format!(
            "layer '{}' ({class}): `data_format = channels_first` is not supported: stratic runs channels last (Keras' default), so give the input as (batch, ..., channels) and remove `data_format`",
            rule.name
        )));
    }
    Ok(())
}

const DATA_FORMATS: &[&str] = &["channels_last", "channels_first"];

/// `ParamValue::Ints` of a constant list, for defaults.
const fn ints(v: &'static [i64]) -> ParamValue {
    ParamValue::Ints(Cow::Borrowed(v))
}

const fn conv_params(paddings: &'static [&'static str]) -> [ParamSpec; 14] {
    [
        ParamSpec::required("filters", ParamKind::PositiveInt),
        ParamSpec::required("kernel_size", ParamKind::Ints),
        ParamSpec::optional("strides", ParamKind::Ints, ints(&[1])).positional(),
        ParamSpec::optional(
            "padding",
            ParamKind::Choice(paddings),
            ParamValue::Str(Cow::Borrowed("valid")),
        )
        .positional(),
        ParamSpec::optional(
            "data_format",
            ParamKind::Choice(DATA_FORMATS),
            ParamValue::Str(Cow::Borrowed("channels_last")),
        ),
        ParamSpec::optional("dilation_rate", ParamKind::Ints, ints(&[1])),
        ParamSpec::optional("groups", ParamKind::PositiveInt, ParamValue::Int(1)),
        ParamSpec::optional(
            "activation",
            ParamKind::Activation,
            ParamValue::Activation(Activation::Linear),
        ),
        ParamSpec::optional("use_bias", ParamKind::Bool, ParamValue::Bool(true)),
        ParamSpec::optional(
            "kernel_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::GlorotUniform),
        )
        .not_compared(),
        ParamSpec::optional(
            "bias_initializer",
            ParamKind::Initializer,
            ParamValue::Initializer(Initializer::Zeros),
        )
        .not_compared(),
        ParamSpec::optional(
            "kernel_regularizer",
            ParamKind::Regularizer,
            ParamValue::None,
        ),
        ParamSpec::optional("bias_regularizer", ParamKind::Regularizer, ParamValue::None),
        ParamSpec::optional(
            "activity_regularizer",
            ParamKind::Regularizer,
            ParamValue::None,
        ),
    ]
}

// Both list `causal`, so that conv2d can say why it refuses it rather than "unknown choice".
static CONV_PARAMS: [ParamSpec; 14] = conv_params(&["valid", "same", "causal"]);

const fn conv(
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
        params: &CONV_PARAMS,
        input: InputSpec::float(rank + 2).ndim(rank + 2),
        arity: Arity::One,
        shareable: false,
        output,
        weights: conv_weights,
        runs: conv_runs,
        id_bound: None,
        runtime: "Conv",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

/// `conv1d(filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
/// activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
/// bias_regularizer, activity_regularizer)`.
pub static CONV1D: LayerSpec = conv(
    "conv1d",
    "Conv1D",
    "A 1D convolution over the steps: `(batch, steps, channels) -> (batch, new_steps, filters)`; `padding` is `valid`, `same` or `causal`.",
    1,
    |r| conv_rule(r, "Conv1D"),
);

/// `conv2d(filters, kernel_size, strides, padding, data_format, dilation_rate, groups,
/// activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
/// bias_regularizer, activity_regularizer)`.
pub static CONV2D: LayerSpec = conv(
    "conv2d",
    "Conv2D",
    "A 2D convolution over images, channels last: `(batch, rows, cols, channels) -> (batch, new_rows, new_cols, filters)`; `padding` is `valid` or `same`.",
    2,
    |r| conv_rule(r, "Conv2D"),
);

/// The configuration of a convolution, typed and expanded to its rank, for inputs that
/// passed the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvGeometry {
    /// The windows, one per spatial axis.
    pub windows: Vec<Window>,
    /// Input channels.
    pub channels: usize,
    /// Output channels.
    pub filters: usize,
    /// Channel groups (1: every filter sees every input channel).
    pub groups: usize,
}

/// The geometry of a convolution on `rule`'s input, or the rule's error.
pub fn conv_geometry(rule: &RuleInput<'_>, class: &str) -> Result<ConvGeometry, RuleError> {
    let layer = rule.name;
    let rank = spatial_rank(class.to_ascii_lowercase().as_str());
    channels_last(rule, class)?;
    let filters = rule.config.usize("filters");
    if filters == 0 {
        return Err(RuleError::new(format!(
            "Received an invalid value for `filters` of layer '{layer}' ({class}), expected a positive integer. Received: filters={}",
            rule.config.int("filters")
        )));
    }
    let kernel = positive_per_axis(rule, class, "kernel_size", rank)?;
    let strides = positive_per_axis(rule, class, "strides", rank)?;
    let dilation = positive_per_axis(rule, class, "dilation_rate", rank)?;
    if strides.iter().any(|&s| s > 1) && dilation.iter().any(|&d| d > 1) {
        return Err(RuleError::new(format!(
            "layer '{layer}' ({class}): `strides > 1` is not compatible with `dilation_rate > 1` (Keras refuses it). Received: strides={}, dilation_rate={}",
            rule.config.get("strides").map(|v| v.to_string()).unwrap_or_default(),
            rule.config.get("dilation_rate").map(|v| v.to_string()).unwrap_or_default()
        )));
    }
    let padding_name = rule.config.str("padding");
    let padding = Padding::from_name(padding_name).unwrap_or(Padding::Valid);
    if padding == Padding::Causal && rank != 1 {
        return Err(RuleError::new(format!(
            "layer '{layer}' ({class}): `padding = causal` is for `conv1d` only (a causal window runs along one time axis); use `valid` or `same`"
        )));
    }
    let input = rule.input();
    let channels = input.last().known().ok_or_else(|| {
        RuleError::new(format!(
            "The channel dimension of the inputs to layer '{layer}' ({class}) should be defined. Found None. Full input shape received: {}",
            input.shape_string()
        ))
    })?;
    let groups = rule.config.usize("groups").max(1);
    if !channels.is_multiple_of(groups) {
        return Err(RuleError::new(format!(
            "layer '{layer}' ({class}): the number of input channels must be divisible by the number of groups. Received: groups={groups}, input channels={channels} (input shape {})",
            input.shape_string()
        )));
    }
    if !filters.is_multiple_of(groups) {
        return Err(RuleError::new(format!(
            "layer '{layer}' ({class}): the number of filters must be divisible by the number of groups. Received: groups={groups}, filters={filters}"
        )));
    }
    let spatial = spatial_dims(rule, class, rank)?;
    let args = WindowArgs {
        what: "kernel",
        kernel: &kernel,
        strides: &strides,
        dilation: &dilation,
        padding,
    };
    let windows = windows(rule, class, &spatial, &args)?;
    Ok(ConvGeometry {
        windows,
        channels,
        filters,
        groups,
    })
}

/// Keras' `BaseConv.compute_output_shape`: each spatial axis becomes its window count, the
/// channels become `filters`. Rank, dtype and layout are checked by the input spec first.
fn conv_rule(rule: &RuleInput<'_>, class: &str) -> Result<TensorSpec, RuleError> {
    let g = conv_geometry(rule, class)?;
    let mut dims: Vec<Dim> = g.windows.iter().map(|w| Dim::Known(w.output)).collect();
    dims.push(Dim::Known(g.filters));
    Ok(TensorSpec {
        dims,
        ..rule.input().clone()
    })
}

/// The kernel `(*kernel_size, channels / groups, filters)` (Keras' layout) and the bias.
fn conv_weights(rule: &RuleInput<'_>) -> Vec<WeightSpec> {
    let rank = rule.input().dims.len().saturating_sub(1);
    let config = rule.config;
    let mut shape: Vec<usize> = per_axis(config, "kernel_size", rank)
        .unwrap_or_default()
        .into_iter()
        .map(|k| usize::try_from(k).unwrap_or(0))
        .collect();
    let groups = config.usize("groups").max(1);
    shape.push(known_or_zero(rule.input().last()) / groups);
    shape.push(config.usize("filters"));
    let mut w = vec![WeightSpec::trainable(
        "kernel",
        shape,
        config.initializer("kernel_initializer"),
    )];
    if config.bool("use_bias") {
        w.push(WeightSpec::trainable(
            "bias",
            vec![config.usize("filters")],
            config.initializer("bias_initializer"),
        ));
    }
    w
}

fn conv_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    if rule.config.usize("groups") > 1 {
        return Err(
            "`groups > 1` is checked, but grouped convolutions do not run yet; use `groups = 1`"
                .into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dims: &[usize]) -> TensorSpec {
        TensorSpec::dense(dims.iter().map(|&d| Dim::Known(d)).collect())
    }

    fn output(
        layer: &'static LayerSpec,
        input: &[usize],
        given: Vec<(&'static str, ParamValue)>,
    ) -> Result<TensorSpec, RuleError> {
        let config = layer.configure(given);
        layer.output_spec(&RuleInput {
            name: layer.name,
            config: &config,
            inputs: &[spec(input)],
        })
    }

    fn ints(v: &[i64]) -> ParamValue {
        ParamValue::Ints(v.to_vec().into())
    }

    #[test]
    fn windows_follow_keras_formulas() {
        let w = |i, k, s, d, p| Window::new(i, k, s, d, p).map(|w| (w.output, w.pad_before));
        assert_eq!(w(28, 3, 1, 1, Padding::Valid), Some((26, 0)));
        assert_eq!(w(26, 2, 2, 1, Padding::Valid), Some((13, 0)));
        assert_eq!(w(7, 3, 2, 1, Padding::Same), Some((4, 1)));
        assert_eq!(w(6, 2, 2, 1, Padding::Same), Some((3, 0)));
        assert_eq!(w(10, 2, 1, 2, Padding::Causal), Some((10, 2)));
        assert_eq!(w(10, 3, 1, 4, Padding::Valid), Some((2, 0)));
        assert_eq!(w(2, 3, 1, 1, Padding::Valid), None);
        assert_eq!(w(2, 3, 0, 1, Padding::Valid), None);
    }

    #[test]
    fn the_mnist_convnet_has_keras_shapes_and_counts() {
        let out = output(
            &CONV2D,
            &[28, 28, 1],
            vec![
                ("filters", ParamValue::Int(32)),
                ("kernel_size", ints(&[3, 3])),
            ],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 26, 26, 32)");
        let config = CONV2D.configure(vec![
            ("filters", ParamValue::Int(64)),
            ("kernel_size", ParamValue::Int(3)),
        ]);
        let inputs = [spec(&[13, 13, 32])];
        let rule = RuleInput {
            name: "conv2d_1",
            config: &config,
            inputs: &inputs,
        };
        assert_eq!(
            CONV2D.output_spec(&rule).unwrap().shape_string(),
            "(None, 11, 11, 64)"
        );
        assert_eq!(
            crate::shape::weight_counts(&CONV2D.weight_specs(&rule)),
            Some((18_496, 0))
        );
    }

    #[test]
    fn rules_refuse_what_keras_refuses() {
        let base = || {
            vec![
                ("filters", ParamValue::Int(4)),
                ("kernel_size", ParamValue::Int(3)),
            ]
        };
        let with = |k: &'static str, v: ParamValue| {
            let mut g = base();
            g.push((k, v));
            g
        };
        let e = output(&CONV2D, &[28, 28], base()).unwrap_err();
        assert!(e.message.contains("expected ndim=4, found ndim=3"), "{e}");
        let e = output(&CONV2D, &[2, 8, 1], base()).unwrap_err();
        assert!(e.message.contains("larger than the input"), "{e}");
        let e = output(&CONV2D, &[8, 8, 1], with("strides", ints(&[0, 1]))).unwrap_err();
        assert!(e.message.contains("positive"), "{e}");
        let e = output(
            &CONV2D,
            &[8, 8, 1],
            vec![
                ("filters", ParamValue::Int(4)),
                ("kernel_size", ParamValue::Int(3)),
                ("strides", ParamValue::Int(2)),
                ("dilation_rate", ParamValue::Int(2)),
            ],
        )
        .unwrap_err();
        assert!(e.message.contains("not compatible"), "{e}");
        let e = output(
            &CONV2D,
            &[8, 8, 1],
            with("padding", ParamValue::Str("causal".into())),
        )
        .unwrap_err();
        assert!(e.message.contains("conv1d"), "{e}");
        let e = output(&CONV2D, &[8, 8, 3], with("groups", ParamValue::Int(2))).unwrap_err();
        assert!(e.message.contains("input channels"), "{e}");
        let e = output(&CONV2D, &[8, 8, 2], with("groups", ParamValue::Int(3))).unwrap_err();
        assert!(e.message.contains("input channels"), "{e}");
        let e = output(&CONV2D, &[8, 8, 6], with("groups", ParamValue::Int(3))).unwrap_err();
        assert!(e.message.contains("filters must be divisible"), "{e}");
        let e = output(
            &CONV2D,
            &[8, 8, 1],
            with("data_format", ParamValue::Str("channels_first".into())),
        )
        .unwrap_err();
        assert!(e.message.contains("channels_first"), "{e}");
        let out = output(
            &CONV1D,
            &[10, 3],
            vec![
                ("filters", ParamValue::Int(2)),
                ("kernel_size", ParamValue::Int(2)),
                ("padding", ParamValue::Str("causal".into())),
                ("dilation_rate", ParamValue::Int(2)),
            ],
        )
        .unwrap();
        assert_eq!(out.shape_string(), "(None, 10, 2)");
    }
}

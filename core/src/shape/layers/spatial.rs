//! Keras' spatial reshaping layers: `ZeroPadding1D/2D`, `Cropping1D/2D` and
//! `UpSampling1D/2D`. One rank-generic family: each maps every output position to one input
//! position or to a zero, which [`spatial_map`] computes and the runtime applies.

use std::borrow::Cow;

use super::conv::{channels_last, spatial_dims};
use crate::shape::spec::{
    no_weights, runs_always, InputSpec, LayerSpec, ParamKind, ParamSpec, ParamValue, RuleInput,
};
use crate::shape::{Arity, Dim, RuleError, TensorSpec};

const DATA_FORMATS: &[&str] = &["channels_last", "channels_first"];
const INTERPOLATIONS: &[&str] = &["nearest", "bilinear"];

/// `ParamValue::Ints` of a constant list, for defaults.
const fn ints(v: &'static [i64]) -> ParamValue {
    ParamValue::Ints(Cow::Borrowed(v))
}

const fn data_format() -> ParamSpec {
    ParamSpec::optional(
        "data_format",
        ParamKind::Choice(DATA_FORMATS),
        ParamValue::Str(Cow::Borrowed("channels_last")),
    )
}

static PADDING_1D_PARAMS: [ParamSpec; 1] =
    [ParamSpec::optional("padding", ParamKind::IntPairs, ints(&[1])).positional()];
static PADDING_2D_PARAMS: [ParamSpec; 2] = [
    ParamSpec::optional("padding", ParamKind::IntPairs, ints(&[1])).positional(),
    data_format(),
];
static CROPPING_1D_PARAMS: [ParamSpec; 1] =
    [ParamSpec::optional("cropping", ParamKind::IntPairs, ints(&[1])).positional()];
static CROPPING_2D_PARAMS: [ParamSpec; 2] = [
    ParamSpec::optional("cropping", ParamKind::IntPairs, ints(&[0])).positional(),
    data_format(),
];
static UP_SAMPLING_1D_PARAMS: [ParamSpec; 1] =
    [ParamSpec::optional("size", ParamKind::PositiveInt, ParamValue::Int(2)).positional()];
static UP_SAMPLING_2D_PARAMS: [ParamSpec; 3] = [
    ParamSpec::optional("size", ParamKind::Ints, ints(&[2])).positional(),
    data_format(),
    ParamSpec::optional(
        "interpolation",
        ParamKind::Choice(INTERPOLATIONS),
        ParamValue::Str(Cow::Borrowed("nearest")),
    ),
];

const fn spatial(
    name: &'static str,
    class_name: &'static str,
    doc: &'static str,
    params: &'static [ParamSpec],
    rank: usize,
    output: fn(&RuleInput<'_>) -> Result<TensorSpec, RuleError>,
    runs: fn(&RuleInput<'_>) -> Result<(), String>,
) -> LayerSpec {
    LayerSpec {
        name,
        class_name,
        doc,
        params,
        input: InputSpec::float(rank + 2).ndim(rank + 2),
        arity: Arity::One,
        shareable: false,
        output,
        weights: no_weights,
        runs,
        id_bound: None,
        runtime: "Spatial",
        mask: crate::shape::spec::MaskFlow::Refuses,
    }
}

/// `zero_padding_1d(padding = 1)`.
pub static ZERO_PADDING_1D: LayerSpec = spatial(
    "zero_padding_1d",
    "ZeroPadding1D",
    "Zeros added before and after the steps: `padding` is one count for both ends or `[left, right]`. `(batch, steps, channels) -> (batch, left + steps + right, channels)`.",
    &PADDING_1D_PARAMS,
    1,
    |r| spatial_rule(r, "ZeroPadding1D"),
    runs_always,
);

/// `zero_padding_2d(padding = [1, 1])`.
pub static ZERO_PADDING_2D: LayerSpec = spatial(
    "zero_padding_2d",
    "ZeroPadding2D",
    "Rows and columns of zeros around the image: `padding` is one count for every side, `[rows, cols]` (symmetric), or `[[top, bottom], [left, right]]`. `(batch, rows, cols, channels) -> (batch, top + rows + bottom, left + cols + right, channels)`.",
    &PADDING_2D_PARAMS,
    2,
    |r| spatial_rule(r, "ZeroPadding2D"),
    runs_always,
);

/// `cropping_1d(cropping = [1, 1])`.
pub static CROPPING_1D: LayerSpec = spatial(
    "cropping_1d",
    "Cropping1D",
    "Steps removed at both ends: `cropping` is one count for both ends or `[start, end]`. `(batch, steps, channels) -> (batch, steps - start - end, channels)`.",
    &CROPPING_1D_PARAMS,
    1,
    |r| spatial_rule(r, "Cropping1D"),
    runs_always,
);

/// `cropping_2d(cropping = 0)`.
pub static CROPPING_2D: LayerSpec = spatial(
    "cropping_2d",
    "Cropping2D",
    "Rows and columns removed at the edges: `cropping` is one count for every side, `[rows, cols]` (symmetric), or `[[top, bottom], [left, right]]`. `(batch, rows, cols, channels) -> (batch, rows - top - bottom, cols - left - right, channels)`.",
    &CROPPING_2D_PARAMS,
    2,
    |r| spatial_rule(r, "Cropping2D"),
    runs_always,
);

/// `up_sampling_1d(size = 2)`.
pub static UP_SAMPLING_1D: LayerSpec = spatial(
    "up_sampling_1d",
    "UpSampling1D",
    "Each step repeated `size` times: `(batch, steps, channels) -> (batch, steps · size, channels)`.",
    &UP_SAMPLING_1D_PARAMS,
    1,
    |r| spatial_rule(r, "UpSampling1D"),
    runs_always,
);

/// `up_sampling_2d(size = [2, 2], interpolation = nearest)`.
pub static UP_SAMPLING_2D: LayerSpec = spatial(
    "up_sampling_2d",
    "UpSampling2D",
    "Each row and column repeated (`interpolation = nearest`): `size` is one factor or `[rows, cols]`. `(batch, rows, cols, channels) -> (batch, rows · size_rows, cols · size_cols, channels)`.",
    &UP_SAMPLING_2D_PARAMS,
    2,
    |r| spatial_rule(r, "UpSampling2D"),
    up_sampling_runs,
);

fn up_sampling_runs(rule: &RuleInput<'_>) -> Result<(), String> {
    if rule.config.str("interpolation") == "bilinear" {
        return Err(
            "`interpolation = bilinear` is checked, but does not run yet; use `interpolation = nearest`"
                .into(),
        );
    }
    Ok(())
}

/// Where each output position of a spatial layer reads from: for every axis, the output
/// size and, per output index, the input index or `None` for a zero.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpatialMap {
    /// The input's spatial sizes.
    pub input: Vec<usize>,
    /// Per spatial axis, per output index: the input index it copies, or `None` (a zero).
    pub axes: Vec<Vec<Option<usize>>>,
}

impl SpatialMap {
    /// The output's spatial sizes.
    pub fn output(&self) -> Vec<usize> {
        self.axes.iter().map(Vec::len).collect()
    }
}

/// The spatial rank of a spatial layer, from its class name.
fn rank_of(class: &str) -> usize {
    if class.ends_with("2D") {
        2
    } else {
        1
    }
}

/// `(before, after)` per axis from an [`IntPairs`](ParamKind::IntPairs) value: one count for
/// every side, one per axis (symmetric, for rank 2), or the pairs flattened.
fn pairs(
    rule: &RuleInput<'_>,
    class: &str,
    name: &str,
    rank: usize,
) -> Result<Vec<(usize, usize)>, RuleError> {
    let v = rule.config.ints(name);
    // As written: pairs are kept flattened in the config.
    let given = if v.len() == 2 * rank && rank > 1 {
        let shown: Vec<String> = v
            .chunks(2)
            .map(|c| format!("[{}, {}]", c[0], c[1]))
            .collect();
        format!("[{}]", shown.join(", "))
    } else {
        rule.config
            .get(name)
            .map(|v| v.to_string())
            .unwrap_or_default()
    };
    let per_axis: Option<Vec<(i64, i64)>> = match v.len() {
        1 => Some(vec![(v[0], v[0]); rank]),
        n if n == rank && rank > 1 => Some(v.iter().map(|&x| (x, x)).collect()),
        n if n == 2 * rank => Some(v.chunks(2).map(|c| (c[0], c[1])).collect()),
        _ => None,
    };
    let forms = if rank == 1 {
        "an integer or a pair `[start, end]`"
    } else {
        "an integer, `[rows, cols]`, or `[[top, bottom], [left, right]]`"
    };
    let Some(per_axis) = per_axis else {
        return Err(RuleError::new(format!(
            "The `{name}` argument of layer '{}' ({class}) must be {forms}. Received: {name}={given}",
            rule.name
        )));
    };
    per_axis
        .into_iter()
        .map(|(a, b)| match (usize::try_from(a), usize::try_from(b)) {
            (Ok(a), Ok(b)) => Ok((a, b)),
            _ => Err(RuleError::new(format!(
                "The `{name}` argument of layer '{}' ({class}) must not be negative. Received: {name}={given}",
                rule.name
            ))),
        })
        .collect()
}

/// The map of a spatial layer on its input, or the error Keras gives.
pub fn spatial_map(rule: &RuleInput<'_>, class: &str) -> Result<SpatialMap, RuleError> {
    let rank = rank_of(class);
    if rank == 2 {
        channels_last(rule, class)?;
    }
    let input = spatial_dims(rule, class, rank)?;
    let too_big = || {
        RuleError::new(format!(
            "layer '{}' ({class}): the output of {} is larger than this machine can address",
            rule.name,
            rule.input().shape_string()
        ))
    };
    let mut axes = Vec::with_capacity(rank);
    if class.starts_with("ZeroPadding") {
        for (&n, (before, after)) in input.iter().zip(pairs(rule, class, "padding", rank)?) {
            let size = n
                .checked_add(before)
                .and_then(|s| s.checked_add(after))
                .ok_or_else(too_big)?;
            axes.push(
                (0..size)
                    .map(|o| o.checked_sub(before).filter(|&i| i < n))
                    .collect(),
            );
        }
    } else if class.starts_with("Cropping") {
        for (axis, (&n, (start, end))) in input
            .iter()
            .zip(pairs(rule, class, "cropping", rank)?)
            .enumerate()
        {
            let Some(size) = start
                .checked_add(end)
                .and_then(|c| n.checked_sub(c))
                .filter(|&s| s > 0)
            else {
                return Err(RuleError::new(format!(
                    "layer '{}' ({class}): cropping {start} + {end} on spatial axis {axis} leaves nothing of its {n} positions; received {}",
                    rule.name,
                    rule.input().shape_string()
                )));
            };
            axes.push((0..size).map(|o| Some(o + start)).collect());
        }
    } else {
        let sizes = match rule.config.get("size") {
            Some(ParamValue::Int(s)) => vec![*s; rank],
            _ => super::conv::per_axis(rule.config, "size", rank).ok_or_else(|| {
                RuleError::new(format!(
                    "The `size` argument of layer '{}' ({class}) must be an integer or a list of {rank} integers. Received: size={}",
                    rule.name,
                    rule.config.get("size").map(|v| v.to_string()).unwrap_or_default()
                ))
            })?,
        };
        for (&n, &s) in input.iter().zip(&sizes) {
            let Some(s) = usize::try_from(s).ok().filter(|&s| s > 0) else {
                return Err(RuleError::new(format!(
                    "The `size` argument of layer '{}' ({class}) must be positive on every axis. Received: size={}",
                    rule.name,
                    rule.config.get("size").map(|v| v.to_string()).unwrap_or_default()
                )));
            };
            let size = n.checked_mul(s).ok_or_else(too_big)?;
            axes.push((0..size).map(|o| Some(o / s)).collect());
        }
    }
    let map = SpatialMap { input, axes };
    let positions = map
        .output()
        .iter()
        .try_fold(rule.input().last().known().unwrap_or(1), |acc, &d| {
            acc.checked_mul(d)
        });
    if positions.is_none() {
        return Err(too_big());
    }
    Ok(map)
}

fn spatial_rule(rule: &RuleInput<'_>, class: &str) -> Result<TensorSpec, RuleError> {
    let map = spatial_map(rule, class)?;
    let input = rule.input();
    let mut dims: Vec<Dim> = map.output().into_iter().map(Dim::Known).collect();
    dims.push(input.last());
    Ok(TensorSpec {
        dims,
        ..input.clone()
    })
}

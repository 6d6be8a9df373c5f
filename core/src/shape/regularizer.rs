//! Keras' weight and activity regularizers: `l1(l1)`, `l2(l2)` and `l1_l2(l1, l2)`, the
//! penalty `l1 · Σ|x| + l2 · Σx²` that training adds to the loss (Keras 3's
//! `keras.regularizers`; the activity penalty is not divided by the batch size, as in Keras 3).

use std::fmt;

use super::spec::{Config, ParamValue};

/// Which of Keras' classes a [`Regularizer`] is, for its config (`"class_name": "L2"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegularizerKind {
    /// `l1(l1 = 0.01)`, Keras' `L1`.
    L1,
    /// `l2(l2 = 0.01)`, Keras' `L2`.
    L2,
    /// `l1_l2(l1 = 0.0, l2 = 0.0)`, Keras' `L1L2`.
    L1L2,
}

/// A regularizer: its class and its factors (0 for the term its class does not have).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Regularizer {
    /// Keras' class.
    pub kind: RegularizerKind,
    /// The factor of `Σ|x|`.
    pub l1: f64,
    /// The factor of `Σx²`.
    pub l2: f64,
}

/// The DSL names of the regularizers with Keras' default factors, for the macro:
/// `(name, kind, (l1, l2))`.
pub const REGULARIZERS: [(&str, RegularizerKind, (f64, f64)); 3] = [
    ("l1", RegularizerKind::L1, (0.01, 0.0)),
    ("l2", RegularizerKind::L2, (0.0, 0.01)),
    ("l1_l2", RegularizerKind::L1L2, (0.0, 0.0)),
];

impl Regularizer {
    /// `l1(factor)`.
    pub const fn l1(factor: f64) -> Self {
        Regularizer {
            kind: RegularizerKind::L1,
            l1: factor,
            l2: 0.0,
        }
    }

    /// `l2(factor)`.
    pub const fn l2(factor: f64) -> Self {
        Regularizer {
            kind: RegularizerKind::L2,
            l1: 0.0,
            l2: factor,
        }
    }

    /// `l1_l2(l1, l2)`.
    pub const fn l1_l2(l1: f64, l2: f64) -> Self {
        Regularizer {
            kind: RegularizerKind::L1L2,
            l1,
            l2,
        }
    }

    /// Keras' class name: `L1`, `L2` or `L1L2`.
    pub fn class_name(&self) -> &'static str {
        match self.kind {
            RegularizerKind::L1 => "L1",
            RegularizerKind::L2 => "L2",
            RegularizerKind::L1L2 => "L1L2",
        }
    }

    /// The penalty of `values`: `l1 · Σ|x| + l2 · Σx²` (summed in f64). A term whose factor
    /// is 0 is skipped: training computes this every step.
    pub fn penalty(&self, values: &[f32]) -> f64 {
        let mut total = 0.0;
        if self.l1 != 0.0 {
            total += self.l1 * values.iter().map(|&v| f64::from(v.abs())).sum::<f64>();
        }
        if self.l2 != 0.0 {
            total += self.l2
                * values
                    .iter()
                    .map(|&v| f64::from(v) * f64::from(v))
                    .sum::<f64>();
        }
        total
    }

    /// Adds the penalty's gradient at `values` to `grad`: `l1 · sign(x) + 2 · l2 · x`, with
    /// `sign(0) = 0` as TensorFlow's gradient of `abs`. Extra entries of either are ignored.
    pub fn add_gradient(&self, values: &[f32], grad: &mut [f32]) {
        if self.l1 == 0.0 {
            // The common `l2` case, without the sign's branches.
            let l2 = 2.0 * self.l2 as f32;
            for (g, &v) in grad.iter_mut().zip(values) {
                *g += l2 * v;
            }
        } else {
            for (g, &v) in grad.iter_mut().zip(values) {
                *g += self.gradient(v);
            }
        }
    }

    /// The penalty's derivative at one value `v`: `l1 · sign(v) + 2 · l2 · v`.
    pub fn gradient(&self, v: f32) -> f32 {
        let sign = if v > 0.0 {
            1.0
        } else if v < 0.0 {
            -1.0
        } else {
            0.0
        };
        self.l1 as f32 * sign + 2.0 * self.l2 as f32 * v
    }
}

impl fmt::Display for Regularizer {
    /// The DSL spelling: `l2(0.01)`, `l1_l2(l1 = 0.01, l2 = 0.02)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RegularizerKind::L1 => write!(f, "l1({})", self.l1),
            RegularizerKind::L2 => write!(f, "l2({})", self.l2),
            RegularizerKind::L1L2 => write!(f, "l1_l2(l1 = {}, l2 = {})", self.l1, self.l2),
        }
    }
}

/// Whether the parameter `param` regularizes the weight `variable` (`kernel_regularizer`
/// the `kernel`), Keras' naming: a variable under a group (`cell/kernel`) is named by its
/// last part, and `recurrent_kernel` by `recurrent_regularizer` as in Keras' recurrent layers.
/// `activity_regularizer` regularizes the output, no weight.
pub fn regularizes(param: &str, variable: &str) -> bool {
    let name = variable.rsplit('/').next().unwrap_or(variable);
    let name = if name == "recurrent_kernel" {
        "recurrent"
    } else {
        name
    };
    param.strip_suffix("_regularizer") == Some(name) && name != "activity"
}

/// The regularizer `config` sets for the weight `variable`, if any. A wrapper's weights are
/// its wrapped layer's (`bidirectional(lstm(4, kernel_regularizer = l2(0.01)))`: both
/// directions' kernels), so the wrapped layer's configuration is searched too.
pub fn weight_regularizer(config: &Config, variable: &str) -> Option<Regularizer> {
    regularizer_in(config.values(), &|name| regularizes(name, variable))
}

/// The `activity_regularizer` of `config`, or of the layer it wraps: Keras' `Bidirectional`
/// calls each direction's copy as a layer, so each copy's output is penalised.
pub fn activity_regularizer(config: &Config) -> Option<Regularizer> {
    regularizer_in(config.values(), &|name| name == "activity_regularizer")
}

/// The first regularizer among `values` (or a nested layer's) whose parameter `wanted`.
fn regularizer_in(
    values: &[(&'static str, ParamValue)],
    wanted: &dyn Fn(&str) -> bool,
) -> Option<Regularizer> {
    values.iter().find_map(|(name, value)| match value {
        ParamValue::Regularizer(r) if wanted(name) => Some(*r),
        ParamValue::Layer(_, inner) => regularizer_in(inner, wanted),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn penalty_and_gradient_are_keras_formulas() {
        let w = [1.5f32, -2.0, 0.0];
        let r = Regularizer::l1_l2(0.1, 0.01);
        // 0.1 · 3.5 + 0.01 · 6.25
        assert!((r.penalty(&w) - 0.4125).abs() < 1e-12);
        let mut g = [1.0f32; 3];
        r.add_gradient(&w, &mut g);
        for (g, expected) in g.iter().zip([1.0 + 0.1 + 0.03, 1.0 - 0.1 - 0.04, 1.0]) {
            assert!((g - expected).abs() < 1e-6, "{g} vs {expected}");
        }
        let mut g = [0.0f32; 3];
        Regularizer::l2(0.5).add_gradient(&w, &mut g);
        assert_eq!(g, [1.5, -2.0, 0.0]);
        let mut g = [0.0f32; 3];
        Regularizer::l1(0.5).add_gradient(&w, &mut g);
        assert_eq!(g, [0.5, -0.5, 0.0]);
        assert_eq!(Regularizer::l2(0.5).penalty(&w), 0.5 * 6.25);
        assert_eq!(Regularizer::l1(0.5).penalty(&w), 0.5 * 3.5);
    }

    #[test]
    fn names_follow_keras() {
        assert!(regularizes("kernel_regularizer", "kernel"));
        assert!(regularizes("kernel_regularizer", "lstm_cell/kernel"));
        assert!(regularizes("recurrent_regularizer", "recurrent_kernel"));
        assert!(!regularizes("bias_regularizer", "kernel"));
        assert!(!regularizes("activity_regularizer", "activity"));
        let config = Config::new(vec![
            ("use_bias", ParamValue::Bool(true)),
            (
                "bias_regularizer",
                ParamValue::Regularizer(Regularizer::l1(0.5)),
            ),
        ]);
        assert_eq!(
            weight_regularizer(&config, "bias"),
            Some(Regularizer::l1(0.5))
        );
        assert_eq!(weight_regularizer(&config, "kernel"), None);
        assert_eq!(Regularizer::l2(0.01).to_string(), "l2(0.01)");
        assert_eq!(Regularizer::l1_l2(0.0, 0.5).class_name(), "L1L2");
    }
}

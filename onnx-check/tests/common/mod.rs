//! What the ONNX tests share: how every registered layer fares in the export.

/// How a registered layer fares in the export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    /// Exported, and checked by tract in a model above.
    Exported,
    /// Refused with `Error::OnnxExport` (here: it only runs on ragged tensors).
    Refused,
}

/// Every registered layer, as exported or refused. A new layer fails
/// `every_registered_layer_is_listed` until it is added here.
pub const LAYER_TABLE: &[(&str, Export)] = &[
    ("dense", Export::Exported),
    ("activation", Export::Exported),
    // `model!` runs `embedding` on ragged ids only, which ONNX cannot take; its `Gather`
    // export is written for dense ids, which `model!` does not run yet.
    ("embedding", Export::Refused),
    ("global_average_pooling_1d", Export::Exported),
    ("global_max_pooling_1d", Export::Exported),
    ("global_sum_pooling_1d", Export::Exported),
    // Reads ragged tensors only.
    ("to_dense", Export::Refused),
    ("flatten", Export::Exported),
    ("conv1d", Export::Exported),
    ("conv2d", Export::Exported),
    ("max_pooling_1d", Export::Exported),
    ("max_pooling_2d", Export::Exported),
    ("average_pooling_1d", Export::Exported),
    ("average_pooling_2d", Export::Exported),
    ("global_max_pooling_2d", Export::Exported),
    ("global_average_pooling_2d", Export::Exported),
    ("reshape", Export::Exported),
    ("concatenate", Export::Exported),
    ("add", Export::Exported),
    ("subtract", Export::Exported),
    ("multiply", Export::Exported),
    ("average", Export::Exported),
    ("maximum", Export::Exported),
    ("minimum", Export::Exported),
    ("dot", Export::Exported),
    ("dropout", Export::Exported),
];

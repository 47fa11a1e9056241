//! One typed error for the whole crate. Every fallible public function returns [`Result`];
//! the wasm façade turns these into `JsError`, the CLI prints them as one line.

use thiserror::Error;

/// Everything that can go wrong when loading a model or explaining an input.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum LrpError {
    /// The model file is not a valid safetensors container or its metadata is malformed.
    #[error("model file: {0}")]
    ModelFormat(String),
    /// The model file is well-formed but describes a network we refuse (bad shapes, NaN weights, too big).
    #[error("model: {0}")]
    InvalidModel(String),
    /// A parameter of a rule or method is out of its valid range.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The input has the wrong length or contains non-finite values.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The requested class index is not one of the model's classes.
    #[error("target class {target} out of range: the model has {classes} classes")]
    TargetOutOfRange { target: usize, classes: usize },
    /// An LRP Toolbox text model could not be parsed.
    #[error("toolbox model, line {line}: {message}")]
    Toolbox { line: usize, message: String },
    /// An ONNX file could not be read or uses what the engine does not support.
    #[error("ONNX model: {0}")]
    Onnx(String),
    /// Anything around files and I/O (native only).
    #[error("{0}")]
    Io(String),
}

/// Result type of this crate.
pub type Result<T> = std::result::Result<T, LrpError>;

pub(crate) fn invalid_param(msg: impl Into<String>) -> LrpError {
    LrpError::InvalidParameter(msg.into())
}
pub(crate) fn invalid_model(msg: impl Into<String>) -> LrpError {
    LrpError::InvalidModel(msg.into())
}

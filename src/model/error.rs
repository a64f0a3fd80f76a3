use std::path::PathBuf;

/// Errors of the model stage: invalid networks, specs and model files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// A layer that cannot follow the shape before it, or that is empty.
    #[error("layer {index} `{name}` ({op}) on input {input}: {reason}")]
    InvalidLayer { index: usize, name: String, op: &'static str, input: String, reason: String },
    /// A network-wide rule broken (duplicate names, empty network, bad input).
    #[error("invalid network: {0}")]
    InvalidNetwork(String),
    /// An architecture spec that cannot be parsed or built.
    #[error("architecture spec `{spec}`: {reason}")]
    InvalidSpec { spec: String, reason: String },
    /// A model file that cannot be read, written or understood.
    #[error("model file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    /// An output file that could not be written (the cause is in the
    /// message: the directory missing, no permission, a full disk).
    #[error("writing {}: {reason}", path.display())]
    Write { path: PathBuf, reason: String },
    /// An output location that cannot take the output.
    #[error("output {}: {reason}", path.display())]
    Output { path: PathBuf, reason: String },
    /// An I/O failure on a model file.
    #[error("model file {}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

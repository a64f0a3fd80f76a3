//! Architecture specs: `mlp:784-300-100-10`, `lenet5`, or a JSON file.

use std::path::Path;

use ndarray::{Array1, Array2};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::error::{ModelError, Result};
use super::network::{BatchNorm, Conv2d, Dense, Layer, MaxPool2d, Network, Op};
use super::shape::Shape;

/// One layer of an architecture spec; parameter sizes are inferred from the
/// shape that reaches the layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum LayerSpec {
    Dense {
        out: usize,
    },
    Conv2d {
        out_channels: usize,
        kernel: usize,
        #[serde(default = "one")]
        stride: usize,
        #[serde(default)]
        padding: usize,
    },
    #[serde(rename = "maxpool2d")]
    MaxPool2d {
        kernel: usize,
        /// Defaults to the kernel size.
        #[serde(default)]
        stride: Option<usize>,
    },
    Relu,
    Flatten,
    #[serde(rename = "batchnorm")]
    BatchNorm,
}

fn one() -> usize {
    1
}

/// Parameters a spec may ask for at most (400 MB of float32, before the
/// gradients and optimizer state training adds).
pub const MAX_PARAMS: usize = 100_000_000;
/// Values of one sample at any layer at most.
pub const MAX_VALUES: usize = 1 << 24;

/// An architecture: the input shape of one sample and the layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchSpec {
    /// `[n]` for a flat vector, `[c, h, w]` for an image.
    pub input: Vec<usize>,
    pub layers: Vec<LayerSpec>,
}

impl ArchSpec {
    /// Whether the network has a convolution.
    pub fn convolutional(&self) -> bool {
        self.layers.iter().any(|l| matches!(l, LayerSpec::Conv2d { .. }))
    }

    /// Parses `mlp:N0-N1-...-Nk`, `lenet5`, or the path of a JSON file holding an
    /// [`ArchSpec`].
    pub fn parse(spec: &str) -> Result<ArchSpec> {
        let err = |reason: String| ModelError::InvalidSpec { spec: spec.to_string(), reason };
        if let Some(sizes) = spec.strip_prefix("mlp:") {
            let sizes = sizes
                .split('-')
                .map(|s| s.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(format!("layer sizes must be whole numbers ({e})")))?;
            if sizes.len() < 2 {
                return Err(err("an MLP needs at least an input and an output size, \
                                like mlp:64-10"
                    .into()));
            }
            if sizes.contains(&0) {
                return Err(err("every layer size must be at least 1".into()));
            }
            let mut layers = Vec::new();
            for (i, &out) in sizes[1..].iter().enumerate() {
                if i > 0 {
                    layers.push(LayerSpec::Relu);
                }
                layers.push(LayerSpec::Dense { out });
            }
            return Ok(ArchSpec { input: vec![sizes[0]], layers });
        }
        if spec == "lenet5" {
            return Ok(ArchSpec::lenet5());
        }
        let path = Path::new(spec);
        if path.extension().is_some_and(|e| e == "json") || path.exists() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| err(format!("cannot read the file ({e})")))?;
            return serde_json::from_str(&text)
                .map_err(|e| err(format!("not a valid architecture JSON file ({e})")));
        }
        Err(err("expected `mlp:N0-N1-...`, `lenet5`, or the path of a JSON architecture \
                 file"
            .into()))
    }

    /// LeNet-5 on 1x28x28 images: conv5x5(6, pad 2)-pool-conv5x5(16)-pool-fc120-fc84-fc10,
    /// ReLU after every convolution and hidden dense layer.
    pub fn lenet5() -> ArchSpec {
        use LayerSpec::*;
        ArchSpec {
            input: vec![1, 28, 28],
            layers: vec![
                Conv2d { out_channels: 6, kernel: 5, stride: 1, padding: 2 },
                Relu,
                MaxPool2d { kernel: 2, stride: None },
                Conv2d { out_channels: 16, kernel: 5, stride: 1, padding: 0 },
                Relu,
                MaxPool2d { kernel: 2, stride: None },
                Flatten,
                Dense { out: 120 },
                Relu,
                Dense { out: 84 },
                Relu,
                Dense { out: 10 },
            ],
        }
    }

    /// Builds the network with weights drawn from `seed` (He-uniform weights, zero
    /// biases, identity batch norms).
    pub fn build(&self, seed: u64) -> Result<Network> {
        let too_big = |what: String| {
            ModelError::InvalidNetwork(format!(
                "{what}; a spec may ask for at most {MAX_PARAMS} parameters and {MAX_VALUES} \
                 values per sample at any layer"
            ))
        };
        let values = self.input.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if values.is_none_or(|v| v > MAX_VALUES) {
            return Err(too_big(format!("the input {:?} is too large", self.input)));
        }
        let input = Shape::from_dims(&self.input).ok_or_else(|| ModelError::InvalidSpec {
            spec: format!("{:?}", self.input),
            reason: "input must be [n] or [channels, height, width]".into(),
        })?;
        let mut params = 0usize;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut counters = [0usize; 6];
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut shape = input;
        for (index, spec) in self.layers.iter().enumerate() {
            let (slot, prefix) = match spec {
                LayerSpec::Dense { .. } => (0, "fc"),
                LayerSpec::Conv2d { .. } => (1, "conv"),
                LayerSpec::MaxPool2d { .. } => (2, "pool"),
                LayerSpec::Relu => (3, "relu"),
                LayerSpec::Flatten => (4, "flatten"),
                LayerSpec::BatchNorm => (5, "bn"),
            };
            counters[slot] += 1;
            let name = format!("{prefix}{}", counters[slot]);
            let weights = match *spec {
                LayerSpec::Dense { out } => out.checked_mul(shape.numel()),
                LayerSpec::Conv2d { out_channels, kernel, .. } => out_channels
                    .checked_mul(shape.channels())
                    .and_then(|n| n.checked_mul(kernel))
                    .and_then(|n| n.checked_mul(kernel)),
                _ => Some(0),
            };
            params = weights.and_then(|w| params.checked_add(w)).unwrap_or(usize::MAX);
            if params > MAX_PARAMS {
                return Err(too_big(format!(
                    "layer {index} `{name}` brings it to over {MAX_PARAMS} parameters"
                )));
            }
            let op = match *spec {
                LayerSpec::Dense { out } => {
                    let fan_in = shape.numel();
                    Op::Dense(Dense {
                        weight: he_uniform(&mut rng, [out, fan_in], fan_in),
                        bias: Array1::zeros(out),
                    })
                }
                LayerSpec::Conv2d { out_channels, kernel, stride, padding } => {
                    let c = shape.channels();
                    let fan_in = c * kernel * kernel;
                    let w = he_uniform(&mut rng, [out_channels, fan_in], fan_in);
                    let weight = w
                        .into_shape_with_order((out_channels, c, kernel, kernel))
                        .expect("sizes match by construction");
                    Op::Conv2d(Conv2d {
                        weight,
                        bias: Array1::zeros(out_channels),
                        stride: [stride; 2],
                        padding: [padding; 2],
                    })
                }
                LayerSpec::MaxPool2d { kernel, stride } => {
                    let stride = stride.unwrap_or(kernel);
                    Op::MaxPool2d(MaxPool2d { kernel: [kernel; 2], stride: [stride; 2] })
                }
                LayerSpec::Relu => Op::Relu,
                LayerSpec::Flatten => Op::Flatten,
                LayerSpec::BatchNorm => Op::BatchNorm(BatchNorm::identity(shape.channels())),
            };
            shape = op.output_shape(shape).map_err(|reason| ModelError::InvalidLayer {
                index,
                name: name.clone(),
                op: op.as_str(),
                input: shape.to_string(),
                reason,
            })?;
            if shape.numel() > MAX_VALUES {
                return Err(too_big(format!("layer {index} `{name}` puts out {shape}")));
            }
            layers.push(Layer { name, op });
        }
        Network::new(input, layers)
    }
}

/// He-uniform initialization: U(-sqrt(6/fan_in), sqrt(6/fan_in)).
fn he_uniform(rng: &mut ChaCha8Rng, shape: [usize; 2], fan_in: usize) -> Array2<f32> {
    let bound = (6.0 / fan_in.max(1) as f32).sqrt();
    Array2::from_shape_simple_fn((shape[0], shape[1]), || rng.gen_range(-bound..bound))
}

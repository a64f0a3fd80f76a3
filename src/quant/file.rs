//! The `integer` section of the `.skm` file.

use ndarray::ArrayD;
use serde::{Deserialize, Serialize};

use super::coding::WeightKind;
use super::contract::FixedFormat;
use super::layer::{ChannelScale, IntLayerSpec, IntOp, Weighted};
use super::network::IntNetwork;
use super::QuantError;
use crate::model::{Container, MaxPool2d, Shape, TensorData};

const SECTION: &str = "integer";

#[derive(Serialize, Deserialize)]
struct GraphJson {
    input: Vec<usize>,
    input_format: FixedFormat,
    layers: Vec<LayerJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WeightedJson {
    weights: WeightKind,
    exponent: i32,
    relu: bool,
    format: FixedFormat,
    /// Fraction bits of the per-channel multipliers, when the layer has them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scale_frac: Option<u32>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum LayerJson {
    Dense {
        name: String,
        #[serde(flatten)]
        w: WeightedJson,
    },
    Conv2d {
        name: String,
        stride: [usize; 2],
        padding: [usize; 2],
        #[serde(flatten)]
        w: WeightedJson,
    },
    #[serde(rename = "maxpool2d")]
    MaxPool2d {
        name: String,
        kernel: [usize; 2],
        stride: [usize; 2],
    },
    Relu {
        name: String,
    },
    Flatten {
        name: String,
    },
}

fn tensor_name(layer: &str, what: &str) -> String {
    format!("{SECTION}.{layer}.{what}")
}

/// Writes the integer network into `c` (replacing any earlier one).
pub fn write_integer(net: &IntNetwork, c: &mut Container) {
    let mut put_weighted = |name: &str, w: &Weighted, format: FixedFormat| -> WeightedJson {
        c.insert_tensor(tensor_name(name, "weight"), TensorData::I32(w.weights.clone()));
        c.insert_tensor(
            tensor_name(name, "bias"),
            TensorData::I64(
                ArrayD::from_shape_vec(vec![w.bias.len()], w.bias.clone()).expect("1-D"),
            ),
        );
        if let Some(s) = &w.scale {
            let m = ArrayD::from_shape_vec(vec![s.multipliers.len()], s.multipliers.clone())
                .expect("1-D");
            c.insert_tensor(tensor_name(name, "scale"), TensorData::I64(m));
        }
        WeightedJson {
            weights: w.kind,
            exponent: w.exponent,
            relu: w.relu,
            format,
            scale_frac: w.scale.as_ref().map(|s| s.frac),
        }
    };
    let layers = net
        .layers()
        .iter()
        .map(|l| {
            let name = l.name.clone();
            match &l.op {
                IntOp::Dense(w) => LayerJson::Dense { w: put_weighted(&name, w, l.format), name },
                IntOp::Conv2d { layer, stride, padding } => LayerJson::Conv2d {
                    w: put_weighted(&name, layer, l.format),
                    stride: *stride,
                    padding: *padding,
                    name,
                },
                IntOp::MaxPool2d(p) => {
                    LayerJson::MaxPool2d { name, kernel: p.kernel, stride: p.stride }
                }
                IntOp::Relu => LayerJson::Relu { name },
                IntOp::Flatten => LayerJson::Flatten { name },
            }
        })
        .collect();
    let graph = GraphJson { input: net.input().dims(), input_format: net.input_format(), layers };
    c.set_section(SECTION, serde_json::to_value(graph).expect("graph serializes"));
}

/// Reads the integer network of `c`, if it has one.
pub fn read_integer(c: &Container) -> Result<Option<IntNetwork>, QuantError> {
    let Some(v) = c.section(SECTION) else {
        return Ok(None);
    };
    let bad = |reason: String| QuantError::Invalid(format!("section `{SECTION}`: {reason}"));
    let graph: GraphJson =
        serde_json::from_value(v.clone()).map_err(|e| bad(format!("not valid ({e})")))?;
    let input = Shape::from_dims(&graph.input)
        .ok_or_else(|| bad(format!("input shape {:?} is not [n] or [c, h, w]", graph.input)))?;
    let i32_tensor = |name: String| -> Result<ArrayD<i32>, QuantError> {
        c.i32_tensor(&name, None).cloned().map_err(bad)
    };
    let i64_vec = |name: String| -> Result<Vec<i64>, QuantError> {
        Ok(c.i64_tensor(&name, Some(1)).map_err(bad)?.iter().copied().collect())
    };
    let weighted = |name: &str, j: &WeightedJson| -> Result<Weighted, QuantError> {
        let scale = match j.scale_frac {
            Some(frac) => {
                Some(ChannelScale { multipliers: i64_vec(tensor_name(name, "scale"))?, frac })
            }
            None => None,
        };
        Ok(Weighted {
            kind: j.weights,
            exponent: j.exponent,
            weights: i32_tensor(tensor_name(name, "weight"))?,
            bias: i64_vec(tensor_name(name, "bias"))?,
            scale,
            relu: j.relu,
        })
    };
    let mut specs = Vec::with_capacity(graph.layers.len());
    for l in &graph.layers {
        let spec = match l {
            LayerJson::Dense { name, w } => IntLayerSpec {
                name: name.clone(),
                op: IntOp::Dense(weighted(name, w)?),
                format: Some(w.format),
            },
            LayerJson::Conv2d { name, stride, padding, w } => IntLayerSpec {
                name: name.clone(),
                op: IntOp::Conv2d { layer: weighted(name, w)?, stride: *stride, padding: *padding },
                format: Some(w.format),
            },
            LayerJson::MaxPool2d { name, kernel, stride } => IntLayerSpec {
                name: name.clone(),
                op: IntOp::MaxPool2d(MaxPool2d { kernel: *kernel, stride: *stride }),
                format: None,
            },
            LayerJson::Relu { name } => {
                IntLayerSpec { name: name.clone(), op: IntOp::Relu, format: None }
            }
            LayerJson::Flatten { name } => {
                IntLayerSpec { name: name.clone(), op: IntOp::Flatten, format: None }
            }
        };
        specs.push(spec);
    }
    IntNetwork::new(input, graph.input_format, specs).map(Some)
}

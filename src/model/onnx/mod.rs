//! ONNX import: a translator from ONNX operators to the float IR. No
//! arithmetic lives here; each supported operator maps onto one IR layer
//! (MatMul followed by Add folds into one dense layer), and everything else is
//! an error naming the node and its operator.

mod export;
mod proto;

pub use export::{export_onnx, EXPORT_OPSET};

use std::collections::HashMap;

use ndarray::{Array1, Array2, ArrayD, IxDyn};
use prost::Message;

use super::error::ModelError;
use super::network::{BatchNorm, Conv2d, Dense, Layer, MaxPool2d, Network, Op};
use super::shape::Shape;
use proto::{AttributeProto, ModelProto, TensorProto};

/// The operators the importer maps.
pub const SUPPORTED_OPS: &[&str] = &[
    "Gemm",
    "MatMul",
    "Add",
    "Conv",
    "Relu",
    "MaxPool",
    "Flatten",
    "Reshape",
    "BatchNormalization",
    "Identity",
    "Dropout",
    "Constant",
];

/// Errors of the ONNX importer.
#[derive(Debug, thiserror::Error)]
pub enum OnnxError {
    #[error("not an ONNX model: {0}")]
    Decode(String),
    #[error("the model has no graph (is it an ONNX model?)")]
    NoGraph,
    #[error("opset {0} is older than 11; export again with opset_version 11 or newer")]
    Opset(i64),
    #[error(
        "node `{node}`: operator {op} is not supported; shiftkit imports {}",
        SUPPORTED_OPS.join(", ")
    )]
    Unsupported { node: String, op: String },
    #[error("node `{node}` ({op}): {reason}")]
    Node { node: String, op: String, reason: String },
    #[error("{0}")]
    Graph(String),
    #[error("the imported network is invalid: {0}")]
    Network(#[from] ModelError),
}

type Result<T> = std::result::Result<T, OnnxError>;

/// What the importer found besides the network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnnxInfo {
    pub producer: String,
    pub opset: i64,
}

/// Translates an ONNX model (protobuf bytes) into a float network.
pub fn import_onnx(bytes: &[u8]) -> Result<(Network, OnnxInfo)> {
    if bytes.is_empty() {
        return Err(OnnxError::Decode("the file is empty".into()));
    }
    let model = ModelProto::decode(bytes).map_err(|e| OnnxError::Decode(e.to_string()))?;
    if model.graph.is_none() {
        return Err(OnnxError::NoGraph);
    }
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(0, |o| o.version);
    if opset < 11 {
        return Err(OnnxError::Opset(opset));
    }
    let graph = model.graph.ok_or(OnnxError::NoGraph)?;
    let mut consts: HashMap<String, TensorProto> =
        graph.initializer.iter().map(|t| (t.name.clone(), t.clone())).collect();
    let input = graph.input.iter().find(|i| !consts.contains_key(&i.name)).ok_or_else(|| {
        OnnxError::Graph("the graph has no input that is not an initializer".into())
    })?;
    let dims: Vec<i64> = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.iter().map(|d| d.dim_value.unwrap_or(-1)).collect())
        .unwrap_or_default();
    let sample: Vec<usize> = dims
        .iter()
        .skip(1)
        .map(|&d| usize::try_from(d).ok().filter(|&d| d > 0))
        .collect::<Option<_>>()
        .ok_or_else(|| {
            OnnxError::Graph(format!(
                "input `{}` has shape {dims:?}; shiftkit needs [batch, n] or [batch, c, h, w] with \
                 fixed sizes after the batch dimension",
                input.name
            ))
        })?;
    let in_shape = Shape::from_dims(&sample).ok_or_else(|| {
        OnnxError::Graph(format!(
            "input `{}` has shape {dims:?}; expected 2 or 4 dimensions",
            input.name
        ))
    })?;

    let mut b = Builder { layers: Vec::new(), counters: [0; 6] };
    let mut current = input.name.clone();
    for node in &graph.node {
        let err = |reason: String| OnnxError::Node {
            node: node.name.clone(),
            op: node.op_type.clone(),
            reason,
        };
        if !node.domain.is_empty() && node.domain != "ai.onnx" {
            return Err(OnnxError::Unsupported {
                node: node.name.clone(),
                op: format!("{}::{}", node.domain, node.op_type),
            });
        }
        if node.op_type == "Constant" {
            let value = node
                .attribute
                .iter()
                .find(|a| a.name == "value")
                .and_then(|a| a.t.clone())
                .ok_or_else(|| err("a Constant without a tensor `value` attribute".into()))?;
            for out in &node.output {
                consts.insert(out.clone(), value.clone());
            }
            continue;
        }
        let data = node.input.first().ok_or_else(|| err("the node has no input".into()))?;
        if *data != current {
            return Err(err(format!(
                "reads `{data}`, but the chain is at `{current}`; shiftkit imports a single chain \
                 of layers (no branches)"
            )));
        }
        let weight = |k: usize| -> Result<&TensorProto> {
            let name = node.input.get(k).ok_or_else(|| err(format!("input {k} is missing")))?;
            consts
                .get(name)
                .ok_or_else(|| err(format!("input `{name}` must be an initializer or a Constant")))
        };
        let optional = |k: usize| -> Option<&TensorProto> {
            node.input.get(k).filter(|n| !n.is_empty()).and_then(|n| consts.get(n))
        };
        match node.op_type.as_str() {
            "Identity" | "Dropout" => {}
            "Relu" => b.push("relu", Op::Relu),
            "Gemm" => {
                let attr = Attrs(&node.attribute);
                if attr.f("alpha", 1.0) != 1.0
                    || attr.f("beta", 1.0) != 1.0
                    || attr.i("transA", 0) != 0
                {
                    return Err(err(
                        "only alpha = 1, beta = 1 and transA = 0 map to a dense layer".into(),
                    ));
                }
                let w = floats(weight(1)?).map_err(&err)?;
                let w = matrix(w).map_err(&err)?;
                let weight = if attr.i("transB", 0) == 1 { w } else { w.t().to_owned() };
                let bias = match optional(2) {
                    Some(t) => vector(floats(t).map_err(&err)?).map_err(&err)?,
                    None => Array1::zeros(weight.nrows()),
                };
                b.push("fc", Op::Dense(Dense { weight, bias }));
            }
            "MatMul" => {
                let w = matrix(floats(weight(1)?).map_err(&err)?).map_err(&err)?;
                let weight = w.t().to_owned();
                let bias = Array1::zeros(weight.nrows());
                b.push("fc", Op::Dense(Dense { weight, bias }));
            }
            "Add" => {
                let bias = vector(floats(weight(1)?).map_err(&err)?).map_err(&err)?;
                match b.layers.last_mut().map(|l| &mut l.op) {
                    Some(Op::Dense(d)) if d.bias.len() == bias.len() => d.bias += &bias,
                    _ => {
                        return Err(err(
                            "an Add maps only to the bias of the dense layer before it".into(),
                        ))
                    }
                }
            }
            "Conv" => {
                let attr = Attrs(&node.attribute);
                if attr.ints("dilations").iter().any(|&d| d != 1) {
                    return Err(err("dilations other than 1 cannot be expressed".into()));
                }
                if attr.i("group", 1) != 1 {
                    return Err(err("grouped convolutions cannot be expressed".into()));
                }
                if !matches!(attr.s("auto_pad").as_str(), "" | "NOTSET") {
                    return Err(err(
                        "auto_pad cannot be expressed; export with explicit pads".into()
                    ));
                }
                let weight = floats(weight(1)?).map_err(&err)?;
                if weight.ndim() != 4 {
                    return Err(err(format!(
                        "a 2-D convolution needs a 4-D weight, got {:?}",
                        weight.shape()
                    )));
                }
                let oc = weight.shape()[0];
                let weight = weight.into_dimensionality().expect("rank checked");
                let bias = match optional(2) {
                    Some(t) => vector(floats(t).map_err(&err)?).map_err(&err)?,
                    None => Array1::zeros(oc),
                };
                let stride = pair(&attr.ints("strides"), 1).map_err(&err)?;
                let padding = symmetric_pads(&attr.ints("pads")).map_err(&err)?;
                b.push("conv", Op::Conv2d(Conv2d { weight, bias, stride, padding }));
            }
            "MaxPool" => {
                let attr = Attrs(&node.attribute);
                if attr.i("ceil_mode", 0) != 0 {
                    return Err(err("ceil_mode = 1 cannot be expressed".into()));
                }
                if attr.ints("dilations").iter().any(|&d| d != 1) {
                    return Err(err("dilations other than 1 cannot be expressed".into()));
                }
                if attr.ints("pads").iter().any(|&p| p != 0) {
                    return Err(err("padded max pooling cannot be expressed".into()));
                }
                let kernel = pair(&attr.ints("kernel_shape"), 0).map_err(&err)?;
                let stride = pair(&attr.ints("strides"), 1).map_err(&err)?;
                b.push("pool", Op::MaxPool2d(MaxPool2d { kernel, stride }));
            }
            "Flatten" => {
                if Attrs(&node.attribute).i("axis", 1) != 1 {
                    return Err(err("only axis = 1 (keep the batch) maps to flatten".into()));
                }
                b.push("flatten", Op::Flatten);
            }
            "Reshape" => {
                let shape = ints(weight(1)?).map_err(&err)?;
                if shape.len() != 2 || !(shape[1] == -1 || shape[1] > 0) {
                    return Err(err(format!(
                        "only a reshape to [batch, features] maps to flatten, got {shape:?}"
                    )));
                }
                b.push("flatten", Op::Flatten);
            }
            "BatchNormalization" => {
                let attr = Attrs(&node.attribute);
                if attr.i("training_mode", 0) != 0 {
                    return Err(err("training_mode = 1 cannot be imported".into()));
                }
                let get = |k| -> Result<Array1<f32>> {
                    vector(floats(weight(k)?).map_err(&err)?).map_err(&err)
                };
                let bn = BatchNorm {
                    gamma: get(1)?,
                    beta: get(2)?,
                    running_mean: get(3)?,
                    running_var: get(4)?,
                    eps: attr.f("epsilon", 1e-5),
                    momentum: 0.1,
                };
                b.push("bn", Op::BatchNorm(bn));
            }
            _ => {
                return Err(OnnxError::Unsupported {
                    node: node.name.clone(),
                    op: node.op_type.clone(),
                })
            }
        }
        current = node.output.first().ok_or_else(|| err("the node has no output".into()))?.clone();
    }
    if let Some(out) = graph.output.first() {
        if out.name != current {
            return Err(OnnxError::Graph(format!(
                "the graph output `{}` is not the end of the chain `{current}`",
                out.name
            )));
        }
    }
    let net = Network::new(in_shape, b.layers)?;
    Ok((net, OnnxInfo { producer: model.producer_name, opset }))
}

struct Builder {
    layers: Vec<Layer>,
    counters: [usize; 6],
}

impl Builder {
    /// Appends a layer named like architecture specs name theirs (fc1, conv2).
    fn push(&mut self, prefix: &str, op: Op) {
        let slot = ["fc", "conv", "pool", "relu", "flatten", "bn"]
            .iter()
            .position(|p| *p == prefix)
            .expect("known prefix");
        self.counters[slot] += 1;
        self.layers.push(Layer { name: format!("{prefix}{}", self.counters[slot]), op });
    }
}

struct Attrs<'a>(&'a [AttributeProto]);

impl Attrs<'_> {
    fn get(&self, name: &str) -> Option<&AttributeProto> {
        self.0.iter().find(|a| a.name == name)
    }
    fn i(&self, name: &str, default: i64) -> i64 {
        self.get(name).map_or(default, |a| a.i)
    }
    fn f(&self, name: &str, default: f32) -> f32 {
        self.get(name).map_or(default, |a| a.f)
    }
    fn ints(&self, name: &str) -> Vec<i64> {
        self.get(name).map_or(Vec::new(), |a| a.ints.clone())
    }
    fn s(&self, name: &str) -> String {
        self.get(name).map_or(String::new(), |a| String::from_utf8_lossy(&a.s).into_owned())
    }
}

fn tensor_dims(t: &TensorProto) -> std::result::Result<Vec<usize>, String> {
    t.dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor `{}` has dimension {d}", t.name)))
        .collect()
}

fn check_len(t: &TensorProto, len: usize, dims: &[usize]) -> std::result::Result<(), String> {
    let want = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d)).ok_or("tensor too large")?;
    if t.data_location == 1 {
        return Err(format!(
            "tensor `{}` keeps its data in an external file; export it embedded",
            t.name
        ));
    }
    if len != want {
        return Err(format!("tensor `{}` has {len} values for dimensions {dims:?}", t.name));
    }
    Ok(())
}

/// A float tensor's values (raw little-endian bytes or `float_data`).
fn floats(t: &TensorProto) -> std::result::Result<ArrayD<f32>, String> {
    if t.data_type != proto::FLOAT {
        return Err(format!(
            "tensor `{}` has data type {}, expected FLOAT (1)",
            t.name, t.data_type
        ));
    }
    let dims = tensor_dims(t)?;
    let values: Vec<f32> = if t.raw_data.is_empty() {
        t.float_data.clone()
    } else {
        if !t.raw_data.len().is_multiple_of(4) {
            return Err(format!(
                "tensor `{}` has {} raw bytes, not a whole number of floats",
                t.name,
                t.raw_data.len()
            ));
        }
        t.raw_data.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    };
    check_len(t, values.len(), &dims)?;
    Ok(ArrayD::from_shape_vec(IxDyn(&dims), values).expect("length checked"))
}

/// An integer tensor's values (INT64 or INT32).
fn ints(t: &TensorProto) -> std::result::Result<Vec<i64>, String> {
    let dims = tensor_dims(t)?;
    let values: Vec<i64> = match (t.data_type, t.raw_data.is_empty()) {
        (proto::INT64, true) => t.int64_data.clone(),
        (proto::INT64, false) if t.raw_data.len().is_multiple_of(8) => t
            .raw_data
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        (proto::INT32, true) => t.int32_data.iter().map(|&v| v as i64).collect(),
        (proto::INT32, false) if t.raw_data.len().is_multiple_of(4) => t
            .raw_data
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
            .collect(),
        (other, _) => {
            return Err(format!(
                "tensor `{}` has data type {other}, expected INT64 (7) or INT32 (6)",
                t.name
            ))
        }
    };
    check_len(t, values.len(), &dims)?;
    Ok(values)
}

fn matrix(a: ArrayD<f32>) -> std::result::Result<Array2<f32>, String> {
    let shape = a.shape().to_vec();
    a.into_dimensionality().map_err(|_| format!("expected a matrix, got shape {shape:?}"))
}

fn vector(a: ArrayD<f32>) -> std::result::Result<Array1<f32>, String> {
    let shape = a.shape().to_vec();
    a.into_dimensionality().map_err(|_| format!("expected a vector, got shape {shape:?}"))
}

/// Two values (rows, columns) from an attribute; empty means `default` (0:
/// required).
fn pair(v: &[i64], default: usize) -> std::result::Result<[usize; 2], String> {
    match v {
        [] if default > 0 => Ok([default; 2]),
        [a, b] if *a > 0 && *b > 0 => Ok([*a as usize, *b as usize]),
        other => Err(format!("expected two positive values, got {other:?}")),
    }
}

/// ONNX pads are [top, left, bottom, right]; the IR has symmetric padding.
fn symmetric_pads(p: &[i64]) -> std::result::Result<[usize; 2], String> {
    match p {
        [] => Ok([0, 0]),
        [t, l, b, r] if t == b && l == r && *t >= 0 && *l >= 0 => Ok([*t as usize, *l as usize]),
        other => Err(format!("asymmetric padding {other:?} cannot be expressed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = import_onnx(&bytes);
        }
    }

    /// A conv-pool network exported, its first node of `op` given one more
    /// attribute, and imported again.
    fn import_with(op: &str, attr: AttributeProto) -> String {
        let spec: crate::model::ArchSpec = serde_json::from_str(
            r#"{"input": [1, 6, 6], "layers": [{"op": "conv2d", "out_channels": 2, "kernel": 3},
                {"op": "maxpool2d", "kernel": 2}, {"op": "flatten"}, {"op": "dense", "out": 2}]}"#,
        )
        .unwrap();
        let bytes = export_onnx(&spec.build(1).unwrap());
        let mut model = ModelProto::decode(bytes.as_slice()).unwrap();
        let graph = model.graph.as_mut().unwrap();
        let node = graph.node.iter_mut().find(|n| n.op_type == op).unwrap();
        node.attribute.retain(|a| a.name != attr.name);
        node.attribute.push(attr);
        import_onnx(&model.encode_to_vec()).unwrap_err().to_string()
    }

    fn ints_attr(name: &str, v: &[i64]) -> AttributeProto {
        AttributeProto { name: name.into(), ints: v.to_vec(), r#type: 7, ..Default::default() }
    }

    fn int_attr(name: &str, v: i64) -> AttributeProto {
        AttributeProto { name: name.into(), i: v, r#type: 2, ..Default::default() }
    }

    #[test]
    fn attributes_the_ir_cannot_express_are_errors_that_say_so() {
        let e = import_with("Conv", ints_attr("dilations", &[2, 2]));
        assert!(e.contains("conv1") && e.contains("dilations"), "{e}");
        let e = import_with("Conv", int_attr("group", 2));
        assert!(e.contains("grouped"), "{e}");
        let e = import_with("Conv", ints_attr("pads", &[1, 0, 0, 0]));
        assert!(e.contains("asymmetric"), "{e}");
        let e = import_with("MaxPool", int_attr("ceil_mode", 1));
        assert!(e.contains("ceil_mode"), "{e}");
    }

    #[test]
    fn pads_must_be_symmetric() {
        assert_eq!(symmetric_pads(&[1, 2, 1, 2]), Ok([1, 2]));
        assert!(symmetric_pads(&[1, 0, 0, 0]).unwrap_err().contains("asymmetric"));
    }
}

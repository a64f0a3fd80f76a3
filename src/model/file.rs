//! The `.skm` model file: one safetensors file.
//!
//! Its metadata holds one key, `shiftkit`, whose value is a JSON document:
//!
//! ```json
//! {"format": "shiftkit-model", "version": 1,
//!  "sections": {"float": {...}, "provenance": {...}, "integer": {...}}}
//! ```
//!
//! Each section is owned by one stage: `float` (the float network, this module),
//! `provenance` (how the file was made), and later stages add their own (the
//! integer network). A section names the tensors it uses; tensor names are
//! prefixed by the section (`float.fc1.weight`). Readers ignore sections they do
//! not know, so an older build can still read the float network of a newer file
//! of the same format version.

use super::output::write_atomically;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ndarray::{Array1, ArrayD, IxDyn};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::provenance::Provenance;

use super::error::{ModelError, Result};
use super::network::{BatchNorm, Conv2d, Dense, Layer, MaxPool2d, Network, Op};
use super::shape::Shape;

/// The version of the file layout this build writes and the newest it reads
/// (2: provenance records are JSON objects, no longer lines of text; both are read).
pub const FORMAT_VERSION: u32 = 2;
const FORMAT_NAME: &str = "shiftkit-model";
const METADATA_KEY: &str = "shiftkit";

/// A tensor stored in a model file.
#[derive(Clone, Debug, PartialEq)]
pub enum TensorData {
    F32(ArrayD<f32>),
    I32(ArrayD<i32>),
    I64(ArrayD<i64>),
}

impl TensorData {
    fn dtype(&self) -> Dtype {
        match self {
            TensorData::F32(_) => Dtype::F32,
            TensorData::I32(_) => Dtype::I32,
            TensorData::I64(_) => Dtype::I64,
        }
    }
    fn shape(&self) -> Vec<usize> {
        match self {
            TensorData::F32(a) => a.shape().to_vec(),
            TensorData::I32(a) => a.shape().to_vec(),
            TensorData::I64(a) => a.shape().to_vec(),
        }
    }
    fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            TensorData::F32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I32(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
            TensorData::I64(a) => a.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    sections: BTreeMap<String, Value>,
}

/// The raw content of a model file: JSON sections and named tensors.
///
/// Stages build their own typed views on top of it; this type knows nothing of
/// networks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Container {
    sections: BTreeMap<String, Value>,
    tensors: BTreeMap<String, TensorData>,
}

impl Container {
    pub fn new() -> Container {
        Container::default()
    }

    pub fn set_section(&mut self, name: &str, value: Value) {
        self.sections.insert(name.to_string(), value);
    }

    pub fn section(&self, name: &str) -> Option<&Value> {
        self.sections.get(name)
    }

    pub fn insert_tensor(&mut self, name: String, data: TensorData) {
        self.tensors.insert(name, data);
    }

    pub fn remove_tensor(&mut self, name: &str) -> Option<TensorData> {
        self.tensors.remove(name)
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorData> {
        self.tensors.get(name)
    }

    /// The F32 tensor `name` of rank `rank`, or why there is none.
    pub fn f32_tensor(&self, name: &str, rank: Option<usize>) -> Result<&ArrayD<f32>, String> {
        self.typed(name, rank, "F32", |t| match t {
            TensorData::F32(a) => Some(a),
            _ => None,
        })
    }

    /// The I32 tensor `name` of rank `rank`, or why there is none.
    pub fn i32_tensor(&self, name: &str, rank: Option<usize>) -> Result<&ArrayD<i32>, String> {
        self.typed(name, rank, "I32", |t| match t {
            TensorData::I32(a) => Some(a),
            _ => None,
        })
    }

    /// The I64 tensor `name` of rank `rank`, or why there is none.
    pub fn i64_tensor(&self, name: &str, rank: Option<usize>) -> Result<&ArrayD<i64>, String> {
        self.typed(name, rank, "I64", |t| match t {
            TensorData::I64(a) => Some(a),
            _ => None,
        })
    }

    fn typed<'a, T>(
        &'a self,
        name: &str,
        rank: Option<usize>,
        dtype: &str,
        pick: fn(&'a TensorData) -> Option<&'a ArrayD<T>>,
    ) -> Result<&'a ArrayD<T>, String> {
        let t = self.tensor(name).ok_or_else(|| format!("tensor `{name}` is missing"))?;
        let a = pick(t).ok_or_else(|| format!("tensor `{name}` is not {dtype}"))?;
        match rank {
            Some(r) if a.ndim() != r => {
                Err(format!("tensor `{name}` has rank {}, expected {r}", a.ndim()))
            }
            _ => Ok(a),
        }
    }

    /// Serializes to safetensors bytes. The same container always gives the same bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_as(FORMAT_VERSION)
    }

    /// The bytes as format `version` lays them out (the sections and tensors
    /// are written as they are): a content hash that must not change when the
    /// format version does takes a fixed one.
    pub fn to_bytes_as(&self, version: u32) -> Vec<u8> {
        let header =
            Header { format: FORMAT_NAME.into(), version, sections: self.sections.clone() };
        let mut meta = HashMap::new();
        meta.insert(
            METADATA_KEY.to_string(),
            serde_json::to_string(&header).expect("JSON values always serialize"),
        );
        let bytes: Vec<(&String, Vec<u8>, Dtype, Vec<usize>)> = self
            .tensors
            .iter()
            .map(|(name, t)| (name, t.to_le_bytes(), t.dtype(), t.shape()))
            .collect();
        let views = bytes.iter().map(|(name, data, dtype, shape)| {
            let view = TensorView::new(*dtype, shape.clone(), data)
                .expect("tensor byte length matches its shape by construction");
            (name.as_str(), view)
        });
        safetensors::serialize(views, &Some(meta)).expect("in-memory serialization cannot fail")
    }

    /// Parses safetensors bytes; `path` only names the file in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Container> {
        let err = |reason: String| ModelError::File { path: path.to_path_buf(), reason };
        let header_end = bytes
            .get(..8)
            .map(|n| u64::from_le_bytes(n.try_into().expect("8 bytes")).saturating_add(8));
        match header_end {
            None if bytes.is_empty() => return Err(err("is empty, not a model file".into())),
            Some(end) if end > bytes.len() as u64 && end < 100_000_000 => {
                return Err(err(format!(
                    "is truncated: its header runs to byte {end}, the file has {} bytes",
                    bytes.len()
                )))
            }
            _ => {}
        }
        let (_, metadata) = SafeTensors::read_metadata(bytes).map_err(|e| match e {
            safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                err("is truncated: its tensors need more bytes than the file has".into())
            }
            e => err(format!("is not a shiftkit model file ({e:?})")),
        })?;
        let text =
            metadata.metadata().as_ref().and_then(|m| m.get(METADATA_KEY)).ok_or_else(|| {
                err("a safetensors file, but not a shiftkit model (no `shiftkit` metadata); \
                     import foreign networks with `shiftkit import`"
                    .into())
            })?;
        let header: Header = serde_json::from_str(text)
            .map_err(|e| err(format!("the `shiftkit` metadata is not valid ({e})")))?;
        if header.format != FORMAT_NAME {
            return Err(err(format!("unknown format `{}`", header.format)));
        }
        if header.version > FORMAT_VERSION {
            return Err(err(format!(
                "written in format version {}, this build reads up to version {FORMAT_VERSION}; \
                 upgrade shiftkit",
                header.version
            )));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| match e {
            safetensors::SafeTensorError::MetadataIncompleteBuffer => {
                err("is truncated: its tensors need more bytes than the file has".into())
            }
            e => err(format!("the tensor data is damaged ({e})")),
        })?;
        let mut tensors = BTreeMap::new();
        for (name, view) in st.tensors() {
            let shape = IxDyn(view.shape());
            let data = view.data();
            let t = match view.dtype() {
                Dtype::F32 => TensorData::F32(array_from_le(shape, data, f32::from_le_bytes)),
                Dtype::I32 => TensorData::I32(array_from_le(shape, data, i32::from_le_bytes)),
                Dtype::I64 => TensorData::I64(array_from_le(shape, data, i64::from_le_bytes)),
                other => {
                    return Err(err(format!(
                        "tensor `{name}` has data type {other:?}; shiftkit stores F32, I32 and I64"
                    )))
                }
            };
            tensors.insert(name, t);
        }
        Ok(Container { sections: header.sections, tensors })
    }

    /// Writes the file atomically: a temporary file beside it, then a rename, so a
    /// failed save never leaves a half-written model.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomically(path, &self.to_bytes())
    }

    pub fn load(path: &Path) -> Result<Container> {
        let bytes =
            std::fs::read(path).map_err(|source| ModelError::Io { path: path.into(), source })?;
        Container::from_bytes(&bytes, path)
    }
}

fn array_from_le<T, const N: usize>(
    shape: IxDyn,
    data: &[u8],
    from: fn([u8; N]) -> T,
) -> ArrayD<T> {
    // safetensors has checked that the byte length matches shape and dtype.
    let values: Vec<T> = data
        .chunks_exact(N)
        .map(|c| from(c.try_into().expect("chunks_exact gives N bytes")))
        .collect();
    ArrayD::from_shape_vec(shape, values).expect("safetensors checked the length")
}

/// A model file as the float stages see it.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelFile {
    pub float: Network,
    pub provenance: Provenance,
    /// Sections and tensors of later stages, kept as they are.
    pub rest: Container,
}

impl ModelFile {
    pub fn new(float: Network, provenance: Provenance) -> ModelFile {
        ModelFile { float, provenance, rest: Container::new() }
    }

    pub fn into_container(self) -> Container {
        let mut c = self.rest;
        c.tensors.retain(|name, _| !name.starts_with("float."));
        c.set_section(
            "provenance",
            serde_json::to_value(&self.provenance).expect("provenance serializes"),
        );
        let graph = float_graph_to_json(&self.float, &mut c);
        c.set_section("float", graph);
        c
    }

    pub fn from_container(c: Container, path: &Path) -> Result<ModelFile> {
        let err = |reason: String| ModelError::File { path: path.to_path_buf(), reason };
        let graph = c
            .section("float")
            .ok_or_else(|| err("has no float network (section `float`)".into()))?;
        // A NaN or infinite weight would train and quantize into nonsense
        // without a word: the file is refused, naming the tensor.
        for (name, t) in c.tensors.iter().filter(|(n, _)| n.starts_with("float.")) {
            if let TensorData::F32(a) = t {
                if let Some((i, v)) = a.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                    return Err(err(format!(
                        "tensor `{name}` holds {v} at index {i}: a model's values must be finite"
                    )));
                }
            }
        }
        let float = float_graph_from_json(graph, &c).map_err(|e| match e {
            ModelError::File { reason, .. } => err(reason),
            other => err(format!("holds an invalid float network: {other}")),
        })?;
        let provenance = match c.section("provenance") {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| err(format!("section `provenance` is not valid ({e})")))?,
            None => Provenance::default(),
        };
        Ok(ModelFile { float, provenance, rest: c })
    }
}

/// Saves a model file atomically.
pub fn save(path: &Path, model: &ModelFile) -> Result<()> {
    model.clone().into_container().save(path)
}

/// Loads a model file; a damaged or foreign file is an error naming the file.
pub fn load(path: &Path) -> Result<ModelFile> {
    ModelFile::from_container(Container::load(path)?, path)
}

#[derive(Serialize, Deserialize)]
struct GraphJson {
    input: Vec<usize>,
    layers: Vec<LayerJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
enum LayerJson {
    Dense {
        name: String,
    },
    Conv2d {
        name: String,
        stride: [usize; 2],
        padding: [usize; 2],
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
    #[serde(rename = "batchnorm")]
    BatchNorm {
        name: String,
        eps: f32,
        momentum: f32,
    },
}

fn tensor_name(layer: &str, what: &str) -> String {
    format!("float.{layer}.{what}")
}

fn float_graph_to_json(net: &Network, c: &mut Container) -> Value {
    let mut put = |layer: &str, what: &str, a: ArrayD<f32>| {
        c.insert_tensor(tensor_name(layer, what), TensorData::F32(a));
    };
    let layers = net
        .layers()
        .iter()
        .map(|l| {
            let name = l.name.clone();
            match &l.op {
                Op::Dense(d) => {
                    put(&name, "weight", d.weight.clone().into_dyn());
                    put(&name, "bias", d.bias.clone().into_dyn());
                    LayerJson::Dense { name }
                }
                Op::Conv2d(cv) => {
                    put(&name, "weight", cv.weight.clone().into_dyn());
                    put(&name, "bias", cv.bias.clone().into_dyn());
                    LayerJson::Conv2d { name, stride: cv.stride, padding: cv.padding }
                }
                Op::MaxPool2d(p) => {
                    LayerJson::MaxPool2d { name, kernel: p.kernel, stride: p.stride }
                }
                Op::Relu => LayerJson::Relu { name },
                Op::Flatten => LayerJson::Flatten { name },
                Op::BatchNorm(bn) => {
                    put(&name, "gamma", bn.gamma.clone().into_dyn());
                    put(&name, "beta", bn.beta.clone().into_dyn());
                    put(&name, "running_mean", bn.running_mean.clone().into_dyn());
                    put(&name, "running_var", bn.running_var.clone().into_dyn());
                    LayerJson::BatchNorm { name, eps: bn.eps, momentum: bn.momentum }
                }
            }
        })
        .collect();
    let graph = GraphJson { input: net.input().dims(), layers };
    serde_json::to_value(graph).expect("graph serializes")
}

fn float_graph_from_json(v: &Value, c: &Container) -> Result<Network> {
    let bad = |reason: String| ModelError::File { path: PathBuf::new(), reason };
    let graph: GraphJson = serde_json::from_value(v.clone())
        .map_err(|e| bad(format!("section `float` is not valid ({e})")))?;
    let input = Shape::from_dims(&graph.input)
        .ok_or_else(|| bad(format!("input shape {:?} is not [n] or [c, h, w]", graph.input)))?;
    let get = |layer: &str, what: &str, rank: usize| -> Result<ArrayD<f32>> {
        c.f32_tensor(&tensor_name(layer, what), Some(rank)).cloned().map_err(bad)
    };
    let vec1 = |layer: &str, what: &str| -> Result<Array1<f32>> {
        Ok(get(layer, what, 1)?.into_dimensionality().expect("rank checked"))
    };
    let mut layers = Vec::with_capacity(graph.layers.len());
    for l in graph.layers {
        let layer = match l {
            LayerJson::Dense { name } => Layer {
                op: Op::Dense(Dense {
                    weight: get(&name, "weight", 2)?.into_dimensionality().expect("rank checked"),
                    bias: vec1(&name, "bias")?,
                }),
                name,
            },
            LayerJson::Conv2d { name, stride, padding } => Layer {
                op: Op::Conv2d(Conv2d {
                    weight: get(&name, "weight", 4)?.into_dimensionality().expect("rank checked"),
                    bias: vec1(&name, "bias")?,
                    stride,
                    padding,
                }),
                name,
            },
            LayerJson::MaxPool2d { name, kernel, stride } => {
                Layer { name, op: Op::MaxPool2d(MaxPool2d { kernel, stride }) }
            }
            LayerJson::Relu { name } => Layer { name, op: Op::Relu },
            LayerJson::Flatten { name } => Layer { name, op: Op::Flatten },
            LayerJson::BatchNorm { name, eps, momentum } => Layer {
                op: Op::BatchNorm(BatchNorm {
                    gamma: vec1(&name, "gamma")?,
                    beta: vec1(&name, "beta")?,
                    running_mean: vec1(&name, "running_mean")?,
                    running_var: vec1(&name, "running_var")?,
                    eps,
                    momentum,
                }),
                name,
            },
        };
        layers.push(layer);
    }
    Network::new(input, layers)
}

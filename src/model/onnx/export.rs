//! ONNX export of a float network: Gemm (transB = 1), Conv, Relu, MaxPool,
//! Flatten and BatchNormalization nodes, weights as raw little-endian
//! initializers, opset 13, a dynamic batch dimension.

use prost::Message;

use super::proto::{
    AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto, TensorProto,
    TensorShapeProto, TensorTypeProto, TypeProto, ValueInfoProto, FLOAT,
};
use crate::model::{Network, Op};

/// The opset exported models declare.
pub const EXPORT_OPSET: i64 = 13;

fn tensor(name: String, dims: &[usize], values: impl Iterator<Item = f32>) -> TensorProto {
    TensorProto {
        dims: dims.iter().map(|&d| d as i64).collect(),
        data_type: FLOAT,
        raw_data: values.flat_map(|v| v.to_le_bytes()).collect(),
        name,
        ..TensorProto::default()
    }
}

fn ints(name: &str, v: &[usize]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.iter().map(|&x| x as i64).collect(),
        r#type: 7,
        ..AttributeProto::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto { name: name.into(), i: v, r#type: 2, ..AttributeProto::default() }
}

fn value_info(name: &str, dims: &[usize]) -> ValueInfoProto {
    let mut dim = vec![Dimension { dim_value: None, dim_param: Some("batch".into()) }];
    dim.extend(dims.iter().map(|&d| Dimension { dim_value: Some(d as i64), dim_param: None }));
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TensorTypeProto {
                elem_type: FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

/// Serializes `net` as an ONNX model.
pub fn export_onnx(net: &Network) -> Vec<u8> {
    let mut nodes = Vec::new();
    let mut init = Vec::new();
    let mut current = "input".to_string();
    for l in net.layers() {
        let out = format!("{}_out", l.name);
        let mut inputs = vec![current.clone()];
        let param = |what: &str| format!("{}.{what}", l.name);
        let (op, attribute) = match &l.op {
            Op::Dense(d) => {
                init.push(tensor(param("weight"), d.weight.shape(), d.weight.iter().copied()));
                init.push(tensor(param("bias"), d.bias.shape(), d.bias.iter().copied()));
                inputs.extend([param("weight"), param("bias")]);
                ("Gemm", vec![int("transB", 1)])
            }
            Op::Conv2d(c) => {
                init.push(tensor(param("weight"), c.weight.shape(), c.weight.iter().copied()));
                init.push(tensor(param("bias"), c.bias.shape(), c.bias.iter().copied()));
                inputs.extend([param("weight"), param("bias")]);
                let [kh, kw] = c.kernel();
                let [ph, pw] = c.padding;
                (
                    "Conv",
                    vec![
                        ints("kernel_shape", &[kh, kw]),
                        ints("strides", &c.stride),
                        ints("pads", &[ph, pw, ph, pw]),
                    ],
                )
            }
            Op::MaxPool2d(p) => {
                ("MaxPool", vec![ints("kernel_shape", &p.kernel), ints("strides", &p.stride)])
            }
            Op::Relu => ("Relu", vec![]),
            Op::Flatten => ("Flatten", vec![int("axis", 1)]),
            Op::BatchNorm(bn) => {
                for (what, v) in [
                    ("gamma", &bn.gamma),
                    ("beta", &bn.beta),
                    ("running_mean", &bn.running_mean),
                    ("running_var", &bn.running_var),
                ] {
                    init.push(tensor(param(what), v.shape(), v.iter().copied()));
                    inputs.push(param(what));
                }
                let eps = AttributeProto {
                    name: "epsilon".into(),
                    f: bn.eps,
                    r#type: 1,
                    ..AttributeProto::default()
                };
                ("BatchNormalization", vec![eps])
            }
        };
        nodes.push(NodeProto {
            input: inputs,
            output: vec![out.clone()],
            name: l.name.clone(),
            op_type: op.into(),
            attribute,
            domain: String::new(),
        });
        current = out;
    }
    let graph = GraphProto {
        node: nodes,
        name: "shiftkit".into(),
        initializer: init,
        input: vec![value_info("input", &net.input().dims())],
        output: vec![value_info(&current, &net.output().dims())],
    };
    ModelProto {
        ir_version: 7,
        producer_name: "shiftkit".into(),
        graph: Some(graph),
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: EXPORT_OPSET }],
    }
    .encode_to_vec()
}

//! Per-layer figures of a float network: shapes, parameters, bytes, MACs.

use serde::Serialize;

use super::network::Network;

/// The figures of one layer.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerSummary {
    pub name: String,
    pub op: &'static str,
    pub input: String,
    pub output: String,
    pub params: usize,
    /// Parameter bytes at 32-bit float.
    pub bytes: usize,
    /// Multiply-accumulates per inference.
    pub macs: usize,
}

/// The figures of a network: per layer and in total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NetworkSummary {
    pub input: String,
    pub output: String,
    pub layers: Vec<LayerSummary>,
    pub params: usize,
    pub bytes: usize,
    pub macs: usize,
}

pub fn summarize(net: &Network) -> NetworkSummary {
    let params = net.params();
    let layers: Vec<LayerSummary> = net
        .layers()
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let count: usize =
                params.iter().filter(|(id, _)| id.layer == i).map(|(_, p)| p.len()).sum();
            LayerSummary {
                name: l.name.clone(),
                op: l.op.as_str(),
                input: net.input_of(i).to_string(),
                output: net.output_of(i).to_string(),
                params: count,
                bytes: count * 4,
                macs: l.op.macs(net.input_of(i), net.output_of(i)),
            }
        })
        .collect();
    NetworkSummary {
        input: net.input().to_string(),
        output: net.output().to_string(),
        params: layers.iter().map(|l| l.params).sum(),
        bytes: layers.iter().map(|l| l.bytes).sum(),
        macs: layers.iter().map(|l| l.macs).sum(),
        layers,
    }
}

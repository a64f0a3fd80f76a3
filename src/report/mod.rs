//! Reports of compressed networks, the way the compression literature tables
//! them: top-1 accuracy, parameter bytes, compression rate, multiplications of
//! the original against additions of the shift-add design, and per layer the
//! sparsity, code bits and storage format. Markdown for people, JSON for
//! scripts.

pub mod html;
mod ops;
mod sensitivity;
mod storage;
pub mod svg;

use std::fmt::Write as _;

use serde::Serialize;

pub use ops::{float_mults, shift_add_ops};
pub use sensitivity::{Sensitivity, SensitivityRow};
pub use storage::{
    huffman_bits, huffman_lengths, sparse_entries, storage, LayerStorage, CONV_INDEX_BITS,
    DENSE_INDEX_BITS,
};

use crate::model::{Network, Op};
use crate::quant::IntNetwork;

/// Bytes of the weights and biases of a float network at 32 bits.
pub fn float_bytes(net: &Network) -> u64 {
    net.layers()
        .iter()
        .map(|l| match &l.op {
            Op::Dense(d) => d.weight.len() + d.bias.len(),
            Op::Conv2d(c) => c.weight.len() + c.bias.len(),
            _ => 0,
        } as u64)
        .sum::<u64>()
        * 4
}

/// One weighted layer of a report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LayerRow {
    pub name: String,
    /// The weight kind (`pow2(2^0..2^7)`, `shared5(fixed8)`, ...).
    pub weights: String,
    pub sparsity: f64,
    #[serde(flatten)]
    pub storage: LayerStorage,
}

/// One row of the survey table: a compressed network against its original.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelReport {
    pub name: String,
    pub method: String,
    /// Top-1 of the integer network (bit-exact simulator) on the test split,
    /// when measured...
    pub accuracy: Option<f64>,
    /// ...and on the validation split.
    pub val_accuracy: Option<f64>,
    /// Top-1 of the original float network, when measured.
    pub reference_accuracy: Option<f64>,
    /// Parameter bytes, stored as `storage` counts them.
    pub bytes: u64,
    /// The original's weights and biases at 32-bit float.
    pub reference_bytes: u64,
    /// `reference_bytes / bytes`.
    pub compression: f64,
    /// Multiplications of one inference of the original.
    pub reference_mults: u64,
    /// Additions of one inference of the shift-add design.
    pub adds: u64,
    /// Nonzero weight uses per inference (multiplications a multiplier design keeps).
    pub nonzero_mults: u64,
    /// Adders of the generated Verilog (`codegen`, dense networks), when known.
    pub rtl_adders: Option<u64>,
    pub layers: Vec<LayerRow>,
}

impl ModelReport {
    pub fn new(
        name: &str,
        method: &str,
        reference: &Network,
        net: &IntNetwork,
        accuracy: Option<f64>,
        reference_accuracy: Option<f64>,
    ) -> ModelReport {
        let layers: Vec<LayerRow> = storage(net)
            .into_iter()
            .zip(net.layers().iter().filter_map(|l| l.op.weighted()))
            .map(|(s, w)| LayerRow {
                name: s.name.clone(),
                weights: w.kind.to_string(),
                sparsity: 1.0 - s.nonzero as f64 / s.weights.max(1) as f64,
                storage: s,
            })
            .collect();
        let bytes = layers.iter().map(|l| l.storage.total_bits).sum::<u64>().div_ceil(8);
        let reference_bytes = float_bytes(reference);
        let (adds, nonzero_mults) = shift_add_ops(net);
        ModelReport {
            name: name.to_string(),
            method: method.to_string(),
            accuracy,
            val_accuracy: None,
            reference_accuracy,
            bytes,
            reference_bytes,
            compression: reference_bytes as f64 / bytes.max(1) as f64,
            reference_mults: float_mults(reference),
            adds,
            nonzero_mults,
            rtl_adders: None,
            layers,
        }
    }
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.2}%", v * 100.0))
}

/// The survey table, then one per-layer table per model, as Markdown.
pub fn markdown(rows: &[ModelReport]) -> String {
    let mut s = String::new();
    s.push_str(
        "| model | method | top-1 (integer) | vs original | bytes | compression | size | \
         MULTs (original) | adds (shift-add) | adders (RTL) | nonzero MULTs |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for r in rows {
        let delta = match (r.accuracy, r.reference_accuracy) {
            (Some(a), Some(b)) => format!("{:+.2}", (a - b) * 100.0),
            _ => "-".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1}x | {:.2}% | {} | {} | {} | {} |",
            r.name,
            r.method,
            pct(r.accuracy),
            delta,
            r.bytes,
            r.compression,
            100.0 / r.compression,
            r.reference_mults,
            r.adds,
            r.rtl_adders.map_or("-".into(), |a| a.to_string()),
            r.nonzero_mults
        );
    }
    for r in rows {
        let _ = write!(
            s,
            "\n{} ({}):\n\n| layer | weights | sparsity | bits | format | weight bits | \
             index bits | table bits | bias bits |\n|---|---|---|---|---|---|---|---|---|\n",
            r.name, r.method
        );
        for l in &r.layers {
            let t = &l.storage;
            let _ = writeln!(
                s,
                "| {} | {} | {:.1}% | {} | {} | {} | {} | {} | {} |",
                l.name,
                l.weights,
                l.sparsity * 100.0,
                t.code_bits,
                t.format,
                t.weight_bits,
                t.index_bits,
                t.table_bits,
                t.bias_bits
            );
        }
    }
    s
}

/// `n` and the noun, plural unless `n` is 1: `1 vector`, `3 vectors`.
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

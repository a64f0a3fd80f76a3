//! A multiplier baseline for resource comparisons: the same dense network
//! with `*` on run-time-loadable weights (a shift chain), so synthesis must
//! build true multipliers instead of folding constants into shift-adds.
//!
//! It is a yardstick for `scripts/bench-hdl.sh`, not a product: it keeps the
//! layer structure (products, one sum per neuron, a register per layer) but
//! replaces requantization by taking the accumulator's top bits, and it is not
//! verified against the simulator.

use super::error::CodegenError;
use crate::quant::{IntNetwork, IntOp};

/// One Verilog module `{top}` with ports `clk`, `w_load`, `w_in` (8-bit weight
/// shift-in), `x` and `y`.
pub fn multiplier_baseline(
    net: &IntNetwork,
    top: &str,
    weight_bits: u32,
) -> Result<String, CodegenError> {
    let mut decls = Vec::new();
    let mut body = Vec::new();
    let mut chain = Vec::new();
    let in_bits = net.input_format().bits();
    let inputs = net.input().numel();
    let mut lanes: Vec<String> = (0..inputs)
        .map(|i| format!("x[{}:{}]", (i as u32 + 1) * in_bits - 1, i as u32 * in_bits))
        .collect();
    let mut lane_bits = in_bits;
    let mut out_bits = in_bits;
    for layer in net.layers() {
        let w = match &layer.op {
            IntOp::Dense(w) => w,
            IntOp::Relu | IntOp::Flatten => continue,
            IntOp::Conv2d { .. } | IntOp::MaxPool2d(_) => {
                return Err(CodegenError::Unsupported {
                    layer: layer.name.clone(),
                    op: layer.op.as_str(),
                })
            }
        };
        let name = &layer.name;
        let (outs, ins) = (w.out_channels(), w.weights.len() / w.out_channels());
        let prod = lane_bits + 1 + weight_bits;
        let acc = prod + (usize::BITS - ins.leading_zeros());
        let mut next = Vec::new();
        for j in 0..outs {
            let mut terms = Vec::new();
            for (i, lane) in lanes.iter().enumerate().take(ins) {
                let wname = format!("{name}_w{j}_{i}");
                decls.push(format!("reg  [{}:0] {wname};", weight_bits - 1));
                chain.push(wname.clone());
                terms.push(format!(
                    "{{{{{}{{p_{name}_{j}_{i}[{}]}}}}, p_{name}_{j}_{i}}}",
                    acc - prod,
                    prod - 1
                ));
                body.push(format!(
                    "wire [{}:0] p_{name}_{j}_{i} = $signed({{1'b0, {lane}}}) * $signed({wname});",
                    prod - 1
                ));
            }
            body.push(format!("wire [{}:0] {name}_acc{j} = {};", acc - 1, terms.join(" + ")));
            decls.push(format!("reg  [{}:0] {name}_y{j};", 7));
            body.push(format!(
                "always @(posedge clk) {name}_y{j} <= {name}_acc{j}[{}:{}];",
                acc - 1,
                acc - 8
            ));
            next.push(format!("{name}_y{j}"));
        }
        lanes = next;
        lane_bits = 8;
        out_bits = 8;
    }
    let mut text = format!(
        "// Multiplier baseline of shiftkit {} (resource comparison only).\n\
         module {top} (\n    input  wire clk,\n    input  wire w_load,\n    input  wire [{}:0] w_in,\n\
         \x20   input  wire [{}:0] x,\n    output wire [{}:0] y\n);\n",
        env!("CARGO_PKG_VERSION"),
        weight_bits - 1,
        inputs as u32 * in_bits - 1,
        lanes.len() as u32 * out_bits - 1
    );
    for d in &decls {
        text.push_str(&format!("    {d}\n"));
    }
    text.push_str("    always @(posedge clk) begin\n        if (w_load) begin\n");
    for k in 0..chain.len() {
        let src = if k + 1 < chain.len() { chain[k + 1].clone() } else { "w_in".to_string() };
        text.push_str(&format!("            {} <= {src};\n", chain[k]));
    }
    text.push_str("        end\n    end\n");
    for b in &body {
        text.push_str(&format!("    {b}\n"));
    }
    let outs: Vec<&String> = lanes.iter().rev().collect();
    text.push_str(&format!(
        "    assign y = {{{}}};\nendmodule\n",
        outs.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
    ));
    Ok(text)
}

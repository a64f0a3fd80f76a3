//! The integer network as JSON, whole: what `shiftkit dump` prints.

use super::interval::Interval;
use super::layer::IntOp;
use super::network::IntNetwork;

impl IntNetwork {
    /// Everything of the network as JSON: per layer its shapes, formats and
    /// proven bounds, and for weighted layers the weights, bias, scale,
    /// accumulator fraction and shift (what `shiftkit dump` prints).
    pub fn dump(&self) -> serde_json::Value {
        let net = self;
        use serde_json::json;
        let pairs = |b: &[Interval]| b.iter().map(|i| [i.lo, i.hi]).collect::<Vec<_>>();
        let layers: Vec<_> = net
            .layers()
            .iter()
            .map(|l| {
                let mut v = json!({
                    "name": l.name,
                    "op": l.op.as_str(),
                    "input_shape": l.input.dims(),
                    "output_shape": l.output.dims(),
                    "input_format": l.input_format,
                    "format": l.format,
                    "bounds": pairs(&l.bounds),
                });
                let obj = v.as_object_mut().expect("object");
                match &l.op {
                    IntOp::Dense(w) | IntOp::Conv2d { layer: w, .. } => {
                        obj.insert("weight_kind".into(), json!(w.kind));
                        obj.insert("exponent".into(), json!(w.exponent));
                        obj.insert("weight_shape".into(), json!(w.weights.shape()));
                        obj.insert("weights".into(), json!(w.weights.iter().collect::<Vec<_>>()));
                        obj.insert("bias".into(), json!(w.bias));
                        obj.insert("scale".into(), json!(w.scale));
                        obj.insert("relu".into(), json!(w.relu));
                        obj.insert("acc_frac".into(), json!(w.acc_frac(l.input_format)));
                        obj.insert("shift".into(), json!(w.shift(l.input_format, l.format)));
                        obj.insert("acc_bounds".into(), json!(pairs(&l.acc_bounds)));
                        if let IntOp::Conv2d { stride, padding, .. } = &l.op {
                            obj.insert("stride".into(), json!(stride));
                            obj.insert("padding".into(), json!(padding));
                        }
                    }
                    IntOp::MaxPool2d(p) => {
                        obj.insert("kernel".into(), json!(p.kernel));
                        obj.insert("stride".into(), json!(p.stride));
                    }
                    IntOp::Relu | IntOp::Flatten => {}
                }
                v
            })
            .collect();
        json!({
            "input_shape": net.input().dims(),
            "input_format": net.input_format(),
            "output_format": net.output_format(),
            "layers": layers,
        })
    }
}

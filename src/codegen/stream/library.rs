//! Which modules of the hand-written library (`hdl/`) a plan instantiates.

use super::plan::{LayerHw, Mvu, Plan};
use crate::codegen::library;

/// The library modules the plan's layers and top instantiate directly.
fn instantiated(plan: &Plan) -> Vec<&'static str> {
    // The top's input and output skid buffers.
    let mut used = vec!["sk_skid"];
    if plan.argmax_gather().is_some() {
        used.push("sk_argmax_gather");
    } else if plan.argmax_bits > 0 {
        used.push("sk_argmax");
    }
    if (plan.output_dwc.is_some() && plan.argmax_gather().is_none()) || plan.narrow.is_some() {
        used.push("sk_dwc");
    }
    for l in &plan.layers {
        if l.has_module() && l.fifo.is_some() {
            used.push("sk_fifo");
        }
        let (dwc, unit) = match &l.hw {
            LayerHw::Conv { dwc, mvu, .. } => {
                used.push("sk_window");
                (dwc, Some(mvu))
            }
            LayerHw::Dense { dwc, vecbuf, mvu } => {
                if vecbuf.is_some() {
                    used.push("sk_vecbuf");
                }
                (dwc, Some(mvu))
            }
            LayerHw::Pool { dwc, serial, .. } => {
                used.push(if serial.is_some() { "sk_maxpool_serial" } else { "sk_maxpool" });
                (dwc, None)
            }
            LayerHw::Relu => {
                if l.input.format.signed() {
                    used.push("sk_relu");
                }
                continue;
            }
            LayerHw::Flatten => continue,
        };
        if dwc.is_some() {
            used.push("sk_dwc");
        }
        if let Some(Mvu::Folded(f)) = unit {
            used.push("sk_mvu");
            if f.spram {
                used.push("sk_spram_rom");
            }
            if f.dsp > 0 {
                used.push("sk_mul16");
            }
        }
    }
    used
}

/// The library files `plan` needs, directly or through other library
/// modules, in the library's order: (file name, source).
pub(super) fn library_for(plan: &Plan) -> Vec<(String, String)> {
    library::files(&instantiated(plan))
}

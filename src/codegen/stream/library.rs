//! The hand-written stream library (`hdl/`), embedded, and which of its
//! modules a plan instantiates.

use super::plan::{LayerHw, Mvu, Plan};

/// The library, in the order its files are listed: a module's name, its
/// source, and the library modules it instantiates (listed before it).
const LIBRARY: [(&str, &str, &[&str]); 11] = [
    ("sk_skid", include_str!("../../../hdl/sk_skid.v"), &[]),
    ("sk_readq", include_str!("../../../hdl/sk_readq.v"), &[]),
    ("sk_fifo", include_str!("../../../hdl/sk_fifo.v"), &["sk_readq"]),
    ("sk_dwc", include_str!("../../../hdl/sk_dwc.v"), &[]),
    ("sk_window", include_str!("../../../hdl/sk_window.v"), &[]),
    ("sk_argmax", include_str!("../../../hdl/sk_argmax.v"), &[]),
    ("sk_maxpool", include_str!("../../../hdl/sk_maxpool.v"), &["sk_window", "sk_argmax"]),
    ("sk_relu", include_str!("../../../hdl/sk_relu.v"), &[]),
    ("sk_vecbuf", include_str!("../../../hdl/sk_vecbuf.v"), &["sk_readq"]),
    ("sk_addtree", include_str!("../../../hdl/sk_addtree.v"), &[]),
    ("sk_mvu", include_str!("../../../hdl/sk_mvu.v"), &["sk_addtree"]),
];

/// The source of one module of the stream library, by file name.
pub fn library_file(name: &str) -> Option<&'static str> {
    LIBRARY.iter().find(|(n, _, _)| format!("{n}.v") == name).map(|(_, text, _)| *text)
}

/// The library modules the plan's layers and top instantiate directly.
fn instantiated(plan: &Plan) -> Vec<&'static str> {
    // The top's input and output skid buffers.
    let mut used = vec!["sk_skid"];
    if plan.output_dwc.is_some() || plan.narrow.is_some() {
        used.push("sk_dwc");
    }
    if plan.argmax_bits > 0 {
        used.push("sk_argmax");
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
            LayerHw::Pool { dwc, .. } => {
                used.push("sk_maxpool");
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
        if let Some(Mvu::Folded(_)) = unit {
            used.push("sk_mvu");
        }
    }
    used
}

/// The library files `plan` needs, directly or through other library
/// modules, in the library's order: (file name, source).
pub(super) fn library_for(plan: &Plan) -> Vec<(String, String)> {
    let direct = instantiated(plan);
    let mut used: Vec<bool> = LIBRARY.iter().map(|(n, _, _)| direct.contains(n)).collect();
    // Dependencies come before their users in the table: one pass from the end.
    for i in (0..LIBRARY.len()).rev() {
        if used[i] {
            for dep in LIBRARY[i].2 {
                let j = LIBRARY.iter().position(|(n, _, _)| n == dep).expect("a library module");
                used[j] = true;
            }
        }
    }
    LIBRARY
        .iter()
        .zip(used)
        .filter(|(_, u)| *u)
        .map(|((n, text, _), _)| (format!("{n}.v"), text.to_string()))
        .collect()
}

//! Per-layer sensitivity: the survey's controlled experiment, one layer
//! compressed at a time with every other layer as it was and no retraining.
//! The rows come from `compress::sensitivity`; here they become a Markdown
//! table and, for the HTML page, one plot per method.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::svg::{escape, Axis, Point, Scatter};

/// A sensitivity run of one model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sensitivity {
    /// The model's name (its file's stem).
    pub model: String,
    pub dataset: String,
    /// The float network's accuracy as it is, on validation and test.
    pub val_accuracy: f64,
    pub test_accuracy: f64,
    pub rows: Vec<SensitivityRow>,
}

/// One layer under one setting of one method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SensitivityRow {
    pub layer: String,
    /// `prune` (magnitude), `prune-obd`, `inq` or `low-rank`.
    pub method: String,
    /// The setting: `90%`, `4-bit`, `rank/4`.
    pub setting: String,
    /// Low rank: the rank kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// The layer's weights over what is left of them: nonzero weights when
    /// pruning, bits against 32 for INQ, parameters for low rank.
    pub compression: f64,
    /// The layer's multiplications per image, before and after (nonzero ones
    /// when pruned; INQ keeps them, as shifts).
    pub mults_before: u64,
    pub mults_after: u64,
    pub val_accuracy: f64,
    pub test_accuracy: f64,
}

/// The distinct items, in the order they first appear.
fn first_seen<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// One method's rows, by layer and setting.
struct Grid<'a> {
    settings: Vec<&'a str>,
    layers: Vec<(&'a str, Vec<Option<&'a SensitivityRow>>)>,
}

impl Sensitivity {
    /// Accuracy lost on validation (points) of a row.
    pub fn val_drop(&self, row: &SensitivityRow) -> f64 {
        (self.val_accuracy - row.val_accuracy) * 100.0
    }

    /// The methods in the order their rows first appear.
    pub fn methods(&self) -> Vec<&str> {
        first_seen(self.rows.iter().map(|r| r.method.as_str()))
    }

    /// A method's rows as a grid: its settings (columns) and layers (rows),
    /// both in the order they first appear.
    fn grid<'a>(&'a self, method: &str) -> Grid<'a> {
        let rows: Vec<&SensitivityRow> = self.rows.iter().filter(|r| r.method == method).collect();
        let settings = first_seen(rows.iter().map(|r| r.setting.as_str()));
        let layers = first_seen(rows.iter().map(|r| r.layer.as_str()))
            .into_iter()
            .map(|layer| {
                let cells = settings
                    .iter()
                    .map(|set| rows.iter().copied().find(|r| r.layer == layer && r.setting == *set))
                    .collect();
                (layer, cells)
            })
            .collect();
        Grid { settings, layers }
    }

    /// A cell's figures: validation points lost, test points lost, and the
    /// layer's compression (with the rank, for low rank).
    fn cell(&self, r: &SensitivityRow) -> (String, String, String) {
        (
            format!("{:.2}", self.val_drop(r)),
            format!("{:.2}", (self.test_accuracy - r.test_accuracy) * 100.0),
            format!(
                "{:.1}x{}",
                r.compression,
                r.rank.map_or(String::new(), |k| format!(", k={k}"))
            ),
        )
    }

    /// The table: a row per layer and method, a column per setting with the
    /// validation drop in points and the layer's compression.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "Per-layer sensitivity of `{}` on {}: one layer at a time, no retraining. \
             As it is: validation {:.2}%, test {:.2}%. Each cell: validation accuracy lost \
             (points), test lost, the layer's compression.\n",
            self.model,
            self.dataset,
            self.val_accuracy * 100.0,
            self.test_accuracy * 100.0
        );
        for method in self.methods() {
            let grid = self.grid(method);
            let _ = writeln!(s, "| {method} | {} |", grid.settings.join(" | "));
            let _ = writeln!(s, "|---|{}", "---|".repeat(grid.settings.len()));
            for (layer, cells) in &grid.layers {
                let cells: Vec<String> = cells
                    .iter()
                    .map(|c| {
                        c.map_or("-".into(), |r| {
                            let (val, test, compression) = self.cell(r);
                            format!("{val} / {test} ({compression})")
                        })
                    })
                    .collect();
                let _ = writeln!(s, "| {layer} | {} |", cells.join(" | "));
            }
            s.push('\n');
        }
        s
    }

    /// One plot per method: validation accuracy against the layer's
    /// compression, a point per layer and setting, tagged with the layer.
    pub fn plots(&self) -> Vec<Scatter> {
        self.methods()
            .into_iter()
            .map(|method| {
                let points = self
                    .rows
                    .iter()
                    .filter(|r| r.method == method)
                    .map(|r| Point {
                        x: r.compression,
                        y: r.val_accuracy * 100.0,
                        label: format!("{} {}: {:.2}%", r.layer, r.setting, r.val_accuracy * 100.0),
                        tag: r.layer.clone(),
                        reference: false,
                    })
                    .collect();
                Scatter {
                    title: format!("{method}: one layer at a time"),
                    x: Axis { label: "layer compression (x)".into(), log: true },
                    y: Axis { label: "validation top-1 (%)".into(), log: false },
                    points,
                    front: Vec::new(),
                }
            })
            .collect()
    }

    /// The HTML section: the tables and the plots.
    pub fn html(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<h2>Per-layer sensitivity of {}</h2><p>One layer compressed at a time, every other \
             layer as it was, no retraining. As it is: validation {:.2}%, test {:.2}%. Each cell: \
             validation accuracy lost (points) / test lost (the layer's compression); hover \
             for the accuracies and multiplications.</p>",
            escape(&self.model),
            self.val_accuracy * 100.0,
            self.test_accuracy * 100.0
        );
        for method in self.methods() {
            let grid = self.grid(method);
            let _ = write!(s, "<table><tr><th class=\"text\">{}</th>", escape(method));
            for setting in &grid.settings {
                let _ = write!(s, "<th>{}</th>", escape(setting));
            }
            s.push_str("</tr>");
            for (layer, cells) in &grid.layers {
                let _ = write!(s, "<tr><td class=\"text\">{}</td>", escape(layer));
                for cell in cells {
                    match cell {
                        Some(r) => {
                            let (val, test, compression) = self.cell(r);
                            let _ = write!(
                                s,
                                "<td title=\"validation {:.2}%, test {:.2}%, MULTs {} of {}\">\
                                 {val} / {test} ({})</td>",
                                r.val_accuracy * 100.0,
                                r.test_accuracy * 100.0,
                                r.mults_after,
                                r.mults_before,
                                escape(&compression)
                            );
                        }
                        None => s.push_str("<td>-</td>"),
                    }
                }
                s.push_str("</tr>");
            }
            s.push_str("</table>");
        }
        s.push_str("<div class=\"plots\">");
        for p in self.plots() {
            s.push_str(&p.svg());
        }
        s.push_str(
            "</div><p class=\"legend\">Each point: one layer at one setting, named by the \
             layer (hover for the setting).</p>",
        );
        s
    }
}

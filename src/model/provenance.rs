//! How a model was made: the records each command that changes a model file
//! leaves in its `provenance` section.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a model was made: written by each command that changes it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The architecture spec it was built from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// The dataset it was trained on (`digits`, `fashion-mnist`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// The commands that made the model, in order.
    #[serde(default)]
    pub steps: Vec<Record>,
}

/// One command that made or changed a model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "RecordRepr")]
pub struct Record {
    /// `train`, `import`, `quantize` or `compress`.
    pub command: String,
    /// What the command did to the weights, in words (`prune 90% global ->
    /// inq 5-bit`); the method column of reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The command's settings (`null` in files of format 1, whose records were
    /// one line of text: that line is in `results.text`).
    pub parameters: serde_json::Value,
    /// What it measured (`{"test_accuracy": 0.97}`).
    pub results: serde_json::Value,
}

/// A record as written by format 2, or the line of text of format 1.
#[derive(Deserialize)]
#[serde(untagged)]
enum RecordRepr {
    Record {
        command: String,
        #[serde(default)]
        method: Option<String>,
        #[serde(default)]
        parameters: serde_json::Value,
        #[serde(default)]
        results: serde_json::Value,
    },
    Text(String),
}

impl From<RecordRepr> for Record {
    fn from(r: RecordRepr) -> Record {
        match r {
            RecordRepr::Record { command, method, parameters, results } => {
                Record { command, method, parameters, results }
            }
            // `compress: METHOD; integer accuracy X`, `train: ...`.
            RecordRepr::Text(text) => {
                let (command, rest) = text.split_once(": ").unwrap_or(("", &text));
                let method = (command == "compress")
                    .then(|| rest.split(';').next().unwrap_or(rest).to_string());
                Record {
                    command: command.to_string(),
                    method,
                    parameters: serde_json::Value::Null,
                    results: serde_json::json!({ "text": text }),
                }
            }
        }
    }
}

impl Record {
    /// A record of `command` with its settings and results as JSON (numbers
    /// as short as their type prints them: an `f32` 0.05 stays 0.05).
    pub fn new(
        command: &str,
        method: Option<String>,
        parameters: &impl Serialize,
        results: &impl Serialize,
    ) -> Record {
        Record {
            command: command.into(),
            method,
            parameters: short_json(parameters),
            results: short_json(results),
        }
    }
}

/// JSON through text, so that an `f32` keeps its short form.
fn short_json(v: &impl Serialize) -> Value {
    let text = serde_json::to_string(v).expect("settings serialize");
    serde_json::from_str(&text).expect("JSON text parses")
}

impl std::fmt::Display for Record {
    /// One line: the command, its method and its results (`info --json`
    /// shows the settings too).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(text) = self.results.get("text").and_then(|t| t.as_str()) {
            return f.write_str(text);
        }
        f.write_str(&self.command)?;
        if let Some(m) = &self.method {
            write!(f, ": {m}")?;
        }
        if let Some(results) = self.results.as_object() {
            for (key, value) in results {
                match value.as_f64() {
                    Some(v) if !value.is_i64() && !value.is_u64() => {
                        write!(f, "; {} {v:.4}", key.replace('_', " "))?
                    }
                    _ => write!(f, "; {} {value}", key.replace('_', " "))?,
                }
            }
        }
        Ok(())
    }
}

//! What the user sees while a command runs and after: progress bars and
//! spinners (indicatif) on stderr, outcomes as text or JSON on stdout.

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use shiftkit::compress::{InqObserver, InqStep};
use shiftkit::train::{EpochReport, Observer};

/// A spinner naming the step a long-running tool is on.
pub fn step_spinner(quiet: bool) -> (ProgressBar, impl FnMut(&str)) {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new_spinner() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}").expect("a template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let b = bar.clone();
    (bar, move |msg: &str| b.set_message(msg.to_string()))
}

/// A bar counting `what` (its length is set as the work learns it).
pub fn count_bar(quiet: bool, what: &str) -> ProgressBar {
    let bar = if quiet { ProgressBar::hidden() } else { ProgressBar::new(0) };
    let template = format!("{{elapsed:>4}} [{{bar:30}}] {{pos}}/{{len}} {what}");
    bar.set_style(ProgressStyle::with_template(&template).expect("a template"));
    bar
}

/// Prints an outcome as JSON, or as the text `text` makes.
pub fn print_outcome<T: serde::Serialize>(
    json: bool,
    outcome: &T,
    text: impl FnOnce() -> String,
) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome)?);
    } else {
        print!("{}", text());
    }
    Ok(())
}

/// One progress bar per epoch, with the running loss and accuracy; a summary
/// line per finished epoch.
pub struct EpochBars {
    epochs: usize,
    quiet: bool,
    bar: Option<ProgressBar>,
    loss: f64,
    acc: f64,
    seen: usize,
}

impl EpochBars {
    pub fn new(epochs: usize, quiet: bool) -> EpochBars {
        EpochBars { epochs, quiet, bar: None, loss: 0.0, acc: 0.0, seen: 0 }
    }
}

impl EpochBars {
    fn epoch_label(&self, epoch: usize) -> String {
        if self.epochs == 0 {
            format!("epoch {epoch:>3}")
        } else {
            format!("epoch {epoch:>3}/{}", self.epochs)
        }
    }
}

impl Observer for EpochBars {
    fn epoch_start(&mut self, epoch: usize, batches: usize) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(batches as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} batches {msg} ({elapsed})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(self.epoch_label(epoch));
        self.bar = Some(bar);
        (self.loss, self.acc, self.seen) = (0.0, 0.0, 0);
    }

    fn batch_end(&mut self, loss: f64, accuracy: f64) {
        let Some(bar) = &self.bar else { return };
        self.seen += 1;
        self.loss += loss;
        self.acc += accuracy;
        bar.inc(1);
        if self.seen.is_multiple_of(10) || self.seen as u64 == bar.length().unwrap_or(0) {
            let n = self.seen as f64;
            bar.set_message(format!("loss {:.4} acc {:.2}%", self.loss / n, self.acc / n * 100.0));
        }
    }

    fn epoch_end(&mut self, r: &EpochReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        if self.quiet {
            return;
        }
        let val = r.val_accuracy.map_or(String::new(), |a| format!("  val {:.2}%", a * 100.0));
        eprintln!(
            "{}  loss {:.4}  train {:.2}%{val}  {:.1}s",
            self.epoch_label(r.epoch),
            r.loss,
            r.train_accuracy * 100.0,
            r.seconds
        );
    }
}

impl InqObserver for EpochBars {
    fn inq_step(&mut self, step: &InqStep, _net: &shiftkit::model::Network) {
        if self.quiet {
            return;
        }
        let acc = step
            .train_accuracy
            .map_or(String::new(), |a| format!("; retrained, train accuracy {:.2}%", a * 100.0));
        eprintln!(
            "INQ: {:.1}% of the weights quantized ({} this step){acc}",
            step.portion * 100.0,
            step.quantized
        );
    }
}

//! Simulator throughput: inferences per second of the bit-exact integer
//! simulator beside the float forward pass, on 10,000 Fashion-MNIST test images,
//! for mlp:784-300-100-10 and lenet5 (fixed8 weights, 8-bit activations), and
//! the multiply-accumulates per second the simulator reaches.
//!
//! Run: `cargo bench --bench sim` (needs dataset-fashion-mnist). The networks
//! are trained for one epoch first so that values are realistic.

use std::time::Instant;

use shiftkit::data::{self, DatasetName};
use shiftkit::model::{summarize, ArchSpec};
use shiftkit::quant::{quantize, QuantizeConfig, WeightSpec};
use shiftkit::sim;
use shiftkit::train::{self, Hooks, LrSchedule, OptimizerConfig, Quiet, TrainConfig};

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let r = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(r);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    let data = match data::load(DatasetName::FashionMnist, None) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            return;
        }
    };
    let test = data.test.head(10_000);
    println!(
        "{:<20} {:>8} {:>14} {:>14} {:>10} {:>12} {:>10}",
        "network", "images", "float inf/s", "sim inf/s", "sim/float", "sim GMAC/s", "int acc"
    );
    for arch in ["mlp:784-300-100-10", "lenet5"] {
        let mut net = ArchSpec::parse(arch).unwrap().build(1).unwrap();
        let cfg = TrainConfig {
            epochs: 1,
            batch_size: 64,
            optimizer: OptimizerConfig::sgd(0.05),
            schedule: LrSchedule::Constant,
            seed: 1,
        };
        train::train(&mut net, &data.train, None, &cfg, &Hooks::default(), &mut Quiet).unwrap();
        let qcfg = QuantizeConfig::new(WeightSpec::Fixed { bits: 8 }, 8, 8);
        let q = quantize(&net, data.train.head(5000).x.view(), &qcfg).unwrap();
        let xq = sim::quantize_input(&q, test.x.view());
        let (t_float, _) = best_of(3, || train::predict_all(&net, test.x.view()));
        let (t_sim, out) = best_of(3, || sim::run(&q, xq.view()).unwrap());
        let correct = out
            .rows()
            .into_iter()
            .zip(&test.y)
            .filter(|(r, &l)| sim::argmax(r.iter().copied()) == l as usize)
            .count();
        let macs = summarize(&net).macs as f64;
        let n = test.len() as f64;
        println!(
            "{:<20} {:>8} {:>14.0} {:>14.0} {:>9.2}x {:>12.2} {:>9.2}%",
            arch,
            test.len(),
            n / t_float,
            n / t_sim,
            t_float / t_sim,
            n * macs / t_sim / 1e9,
            100.0 * correct as f64 / n
        );
    }
    println!("(threads: {}; best of 3 runs each)", rayon::current_num_threads());
}

//! Vectors per second of the three implementations of one design — the Rust
//! simulator, the Verilator model and Icarus — on the digits INQ-5 MLP
//! (mlp:64-32-10), with random valid gaps and back-pressure in the testbench.
//!
//! Run: `cargo bench --bench verify` (needs verilator and iverilog). Testbench
//! times include writing the vectors and starting the simulator; build times
//! are printed apart.

use std::time::Instant;

use shiftkit::codegen::{self, HdlConfig};
use shiftkit::sim;

#[path = "../tests/common/mod.rs"]
mod common;
use shiftkit::verify::{self, Simulator, Traffic};

fn main() {
    let (_, _, q) = common::digits_inq5(60, 2);
    let dir = tempfile::tempdir().unwrap();
    let hdl = HdlConfig {
        argmax: true,
        ..HdlConfig::new("shiftkit_top", shiftkit::codegen::Form::Unrolled)
    };
    let design = codegen::generate(&q, &hdl).unwrap();
    codegen::write_design(&design, dir.path()).unwrap();
    let traffic = Traffic::new(7, 11, 9);

    let n_big = 100_000;
    let x = shiftkit::verify::verification_vectors(&q, n_big, 3, None);
    let start = Instant::now();
    let reps = 20;
    for _ in 0..reps {
        std::hint::black_box(sim::run(&q, x.view()).unwrap());
    }
    let rust = (reps * x.nrows()) as f64 / start.elapsed().as_secs_f64();
    let expected = sim::run(&q, x.view()).unwrap();
    println!(
        "{:<10} {:>10} {:>12} {:>14} {:>12}",
        "engine", "vectors", "build s", "vectors/s", "vs Rust"
    );
    println!("{:<10} {:>10} {:>12} {:>14.0} {:>11.1}x", "rust sim", x.nrows(), "-", rust, 1.0);
    for (simulator, n) in [(Simulator::Verilator, n_big), (Simulator::Icarus, 2_000)] {
        if !simulator.available() {
            println!("{simulator:<10} not installed");
            continue;
        }
        let xs = x.slice(ndarray::s![..n, ..]).to_owned();
        let build_dir = dir.path().join(simulator.as_str());
        let built = verify::build(simulator, dir.path(), &design.manifest, &build_dir, n).unwrap();
        let (log, seconds) = verify::run(&built, &xs, traffic).unwrap();
        let exp = expected.slice(ndarray::s![..n, ..]).to_owned();
        verify::compare(&design.manifest, &exp, &log, None).expect("the RTL agrees");
        let rate = n as f64 / seconds;
        println!(
            "{:<10} {:>10} {:>12.1} {:>14.0} {:>11.1}x",
            simulator.as_str(),
            n,
            built.seconds,
            rate,
            rust / rate
        );
    }
    println!("(rust sim: mean of {reps} runs on {} threads; vs Rust = how many times faster the Rust simulator is)", rayon::current_num_threads());
}

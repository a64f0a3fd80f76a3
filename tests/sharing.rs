//! Shared subexpressions (`codegen::cmvm`) against per-output adder trees: the
//! same values, every node within its proven bounds, fewer adders.

use proptest::prelude::*;
use shiftkit::codegen::{build_graphs, Adders, Cost, Form, HdlConfig, LayerGraph, Sharing};
use shiftkit::device::{Delays, Device};
use shiftkit::quant::IntNetwork;
use shiftkit::sim;

mod common;
use common::{random_dense_network, vectors};

fn graphs(net: &IntNetwork, levels: u32, sharing: Sharing) -> Vec<LayerGraph> {
    build_graphs(net, Adders { levels_per_stage: levels, sharing }).unwrap()
}

fn adders(graphs: &[LayerGraph]) -> u64 {
    graphs.iter().map(|g| Cost::of(g).adders).sum()
}

/// Runs both graphs of every layer on the layer's inputs from the simulator,
/// and checks outputs and bounds.
fn compare(
    net: &IntNetwork,
    x: &ndarray::Array2<i64>,
    plain: &[LayerGraph],
    shared: &[LayerGraph],
) {
    let traces = sim::run_traced(net, x.view()).unwrap();
    for (p, s) in plain.iter().zip(shared) {
        assert_eq!(p.name, s.name);
        let k = net.layers().iter().position(|l| l.name == s.name).unwrap();
        for r in 0..x.nrows() {
            let input: Vec<i64> =
                if k == 0 { x.row(r).to_vec() } else { traces[k - 1].row(r).to_vec() };
            let expected = traces[k].row(r).to_vec();
            let (vp, vs) = (p.eval(&input), s.eval(&input));
            let out = |g: &LayerGraph, v: &[i64]| -> Vec<i64> {
                g.outputs.iter().map(|o| v[o.0 as usize]).collect()
            };
            assert_eq!(out(p, &vp), expected, "per-output trees, layer {}", p.name);
            assert_eq!(out(s, &vs), expected, "shared, layer {}", s.name);
            for (node, &value) in s.nodes.iter().zip(&vs) {
                let b = node.bounds;
                assert!(b.lo <= value && value <= b.hi, "{} = {value} outside {b}", node.name);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn shared_graphs_compute_what_per_output_trees_compute(
        seed in 0u64..1_000_000,
        extra_depth in 0u32..4,
        levels in 1u32..4,
    ) {
        let net = random_dense_network(seed);
        let x = vectors(&net, seed, 24);
        let plain = graphs(&net, levels, Sharing { enabled: false, ..Sharing::default() });
        let shared = graphs(&net, levels, Sharing { extra_depth, tries: 2, ..Sharing::default() });
        compare(&net, &x, &plain, &shared);
        prop_assert!(adders(&shared) <= adders(&plain));
    }
}

/// The graphs of `net`'s unrolled design with registers placed for `mhz` by
/// the UP5K's timing model, and that model's delays.
fn graphs_for_clock(net: &IntNetwork, mhz: f64, sharing: Sharing) -> (Vec<LayerGraph>, Delays) {
    let device = Device::resolve("ice40-up5k").unwrap();
    let delays = device.delays.unwrap();
    let config = HdlConfig {
        device: Some(device),
        clock_mhz: Some(mhz),
        sharing,
        ..HdlConfig::new("t", Form::Unrolled)
    };
    let design = shiftkit::codegen::generate(net, &config).unwrap();
    // The manifest states the model's clock: its slowest stage.
    let slowest = design.graphs.iter().map(|g| g.slowest_stage_ns(&delays)).fold(0.0, f64::max);
    let stated = design.manifest.model_mhz.expect("a device with a timing model");
    assert!((stated - 1000.0 / slowest).abs() < 1e-9, "{stated} MHz, slowest stage {slowest} ns");
    (design.graphs, delays)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn graphs_pipelined_for_a_clock_compute_the_same_and_fit_it_when_they_can(
        seed in 0u64..1_000_000,
        mhz in 10.0f64..80.0,
        share: bool,
    ) {
        let net = random_dense_network(seed);
        let x = vectors(&net, seed, 16);
        let sharing = Sharing { enabled: share, tries: 2, ..Sharing::default() };
        let (timed, delays) = graphs_for_clock(&net, mhz, sharing);
        let plain = graphs(&net, 2, Sharing { enabled: false, ..Sharing::default() });
        compare(&net, &x, &plain, &timed);
        // Every stage within the budget, or the layer as fast as a register
        // after every adder makes it (which a faster clock cannot beat).
        let every = graphs(&net, 1, sharing);
        for (g, e) in timed.iter().zip(&every) {
            let (ns, fastest) = (g.slowest_stage_ns(&delays), e.slowest_stage_ns(&delays));
            prop_assert!(
                ns <= Delays::budget_ns(mhz) + 1e-9 || ns <= fastest + 1e-9,
                "{}: {ns} ns at {mhz} MHz, {fastest} with every level registered", g.name
            );
        }
    }
}

#[test]
fn a_faster_clock_gets_more_registers_and_only_where_needed() {
    let (_, _, q) = common::digits_inq5(4, 1);
    let ffs = |gs: &[LayerGraph]| gs.iter().map(|g| Cost::of(g).ffs).sum::<u64>();
    let (slow, delays) = graphs_for_clock(&q, 15.0, Sharing::default());
    let (fast, _) = graphs_for_clock(&q, 40.0, Sharing::default());
    assert!(ffs(&slow) < ffs(&fast), "{} {}", ffs(&slow), ffs(&fast));
    for (s, f) in slow.iter().zip(&fast) {
        assert!(s.latency <= f.latency, "{}", s.name);
        assert!(f.slowest_stage_ns(&delays) <= Delays::budget_ns(40.0), "{}", f.name);
    }
    // The slow clock's layers are not registered more than they need: the
    // whole of each layer in one stage is too slow for it, or it is.
    let whole = graphs(&q, 99, Sharing::default());
    for (s, w) in slow.iter().zip(&whole) {
        if s.latency > w.latency {
            assert!(w.slowest_stage_ns(&delays) > Delays::budget_ns(15.0), "{}", s.name);
        }
    }
}

#[test]
fn the_digits_network_needs_far_fewer_adders_shared() {
    let (_, d, q) = common::digits_inq5(4, 1);
    let x = ndarray::Array2::from_shape_fn((64, d.test.x.ncols()), |(r, c)| {
        q.input_format().quantize(d.test.x[[r, c]] as f64)
    });
    let plain = graphs(&q, 3, Sharing { enabled: false, ..Sharing::default() });
    let shared = graphs(&q, 3, Sharing::default());
    compare(&q, &x, &plain, &shared);
    let (p, s) = (adders(&plain), adders(&shared));
    assert!(s * 4 < p * 3, "shared {s} adders, per-output trees {p}");
    // The default depth budget: no more pipeline stages than the trees.
    for (a, b) in plain.iter().zip(&shared) {
        assert!(b.latency <= a.latency, "{}: {} > {}", a.name, b.latency, a.latency);
    }
}

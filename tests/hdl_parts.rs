//! The hand-written stream library (hdl/), part by part, under the generic
//! harness of sim/stream_tb.v on Icarus: every output beat against a direct
//! Rust reference, with random valid gaps and back-pressure, and without them
//! every handshake's cycle against the generator's timing model. Random
//! parameters from a seed (printed on failure), and Verilator -Wall lint of
//! every configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use shiftkit::codegen::hex::{pack_hex, unpack_hex};
use shiftkit::codegen::timing::{simulate_traffic, Driver, Part, Traffic};
use shiftkit::quant::FixedFormat;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn have(tool: &str) -> bool {
    let found = Command::new(tool).arg("--version").output().is_ok();
    if !found {
        eprintln!("SKIPPED: {tool} is not installed");
    }
    found
}

/// One part under test: the module, its parameters, and the beats in and out.
struct Case {
    module: &'static str,
    /// A combinational part: the body of its wrapper (which has the harness's
    /// ports) instead of the stream instance.
    comb: Option<String>,
    params: Vec<(&'static str, i64)>,
    bits: u32,
    signed: bool,
    in_lanes: usize,
    out_lanes: usize,
    inputs: Vec<Vec<i64>>,
    expected: Vec<Vec<i64>>,
    /// The part as the timing model sees it (nothing for a combinational one).
    model: Vec<Part>,
}

impl Case {
    fn wrapper(&self) -> String {
        let params: Vec<String> = self.params.iter().map(|(k, v)| format!(".{k}({v})")).collect();
        if let Some(body) = &self.comb {
            return format!(
                "module dut (input wire clk, input wire rst,\n\
                 input wire [{}:0] s_data, input wire s_valid, output wire s_ready,\n\
                 output wire [{}:0] m_data, output wire m_valid, input wire m_ready);\n\
                 wire unused_clk = clk ^ rst;\n\
                 {body}\n\
                 endmodule\n",
                self.in_lanes * self.bits as usize - 1,
                self.out_lanes * self.bits as usize - 1,
            );
        }
        format!(
            "module dut (input wire clk, input wire rst,\n\
             input wire [{}:0] s_data, input wire s_valid, output wire s_ready,\n\
             output wire [{}:0] m_data, output wire m_valid, input wire m_ready);\n\
             {} #({}) u_part (.clk(clk), .rst(rst), .s_data(s_data), .s_valid(s_valid),\n\
             .s_ready(s_ready), .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready));\n\
             endmodule\n",
            self.in_lanes * self.bits as usize - 1,
            self.out_lanes * self.bits as usize - 1,
            self.module,
            params.join(", ")
        )
    }

    fn format(&self) -> FixedFormat {
        FixedFormat::new(self.signed, self.bits, 0).unwrap()
    }
}

fn library() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join("hdl"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "v"))
        .collect();
    files.sort();
    // The SPRAM primitive's simulation model, for sk_spram_rom, and the
    // flash's, for sk_flash_reader.
    files.push(Path::new(ROOT).join("sim/sb_spram256ka.v"));
    files.push(Path::new(ROOT).join("sim/spi_flash.v"));
    files
}

/// Compiles the case once; returns the directory and the simulation command.
fn build(case: &Case) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dut.v"), case.wrapper()).unwrap();
    let out = Command::new("iverilog")
        .current_dir(dir.path())
        .args(["-g2005", "-s", "stream_tb", "-o", "tb.vvp"])
        .arg(format!("-Pstream_tb.IN_W={}", case.in_lanes * case.bits as usize))
        .arg(format!("-Pstream_tb.OUT_W={}", case.out_lanes * case.bits as usize))
        .arg(format!("-Pstream_tb.MAX_N={}", case.inputs.len().max(1)))
        .arg(Path::new(ROOT).join("sim/stream_tb.v"))
        .arg(Path::new(ROOT).join("sim/sk_traffic.v"))
        .arg("dut.v")
        .args(library())
        .output()
        .unwrap();
    assert!(out.status.success(), "iverilog: {}", String::from_utf8_lossy(&out.stderr));
    dir
}

/// Input and output handshakes: (cycle) and (lanes, cycle).
type Log = (Vec<u64>, Vec<(Vec<i64>, u64)>);

fn run(case: &Case, dir: &Path, seed: u32, valid: u32, ready: u32) -> Log {
    let text: String =
        case.inputs.iter().map(|b| format!("{}\n", pack_hex(b, case.bits))).collect();
    std::fs::write(dir.join("inputs.hex"), text).unwrap();
    // SHIFTKIT_KEEP=DIR keeps the last case's files for a look by hand.
    if let Ok(keep) = std::env::var("SHIFTKIT_KEEP") {
        let _ = std::fs::remove_dir_all(&keep);
        std::fs::create_dir_all(&keep).unwrap();
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), Path::new(&keep).join(e.file_name())).unwrap();
        }
    }
    let out = Command::new("vvp")
        .current_dir(dir)
        .args(["-n", "tb.vvp"])
        .arg(format!("+n={}", case.inputs.len()))
        .arg(format!("+expect={}", case.expected.len()))
        .arg(format!("+seed={seed}"))
        .arg(format!("+valid={valid}"))
        .arg(format!("+ready={ready}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "vvp: {}", String::from_utf8_lossy(&out.stderr));
    let log = std::fs::read_to_string(dir.join("outputs.txt")).unwrap();
    let (mut ins, mut outs) = (Vec::new(), Vec::new());
    for line in log.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        match f.as_slice() {
            ["i", _, c] => ins.push(c.parse().unwrap()),
            ["o", _, hex, c] => outs.push((
                unpack_hex(hex, case.out_lanes, case.format()).unwrap(),
                c.parse().unwrap(),
            )),
            _ => panic!("bad log line {line}"),
        }
    }
    (ins, outs)
}

/// Data with random traffic, then data and every handshake's cycle without
/// gaps against the timing model.
fn check(case: &Case, seed: u64) {
    let dir = build(case);
    let what = format!("{} {:?} (seed {seed})", case.module, case.params);
    for (valid, ready) in [(9, 7), (16, 16)] {
        let (ins, outs) = run(case, dir.path(), seed as u32 + 1, valid, ready);
        assert_eq!(ins.len(), case.inputs.len(), "{what}: inputs taken");
        let got: Vec<Vec<i64>> = outs.iter().map(|(l, _)| l.clone()).collect();
        assert_eq!(got.len(), case.expected.len(), "{what}: output beats");
        for (k, (g, e)) in got.iter().zip(&case.expected).enumerate() {
            assert_eq!(g, e, "{what}: output beat {k} (valid {valid}/16, ready {ready}/16)");
        }
        // Every handshake at the cycle the timing model says.
        let driver = Driver::new(Traffic::new(seed as u32 + 1, valid, ready));
        let model =
            simulate_traffic(&case.model, case.inputs.len(), case.expected.len(), driver, 1 << 22)
                .expect("the model finishes");
        let cycles: Vec<u64> = outs.iter().map(|o| o.1).collect();
        let traffic = format!("valid {valid}/16, ready {ready}/16");
        assert_eq!(ins, model.inputs, "{what}: input handshakes, {traffic}");
        assert_eq!(cycles, model.outputs, "{what}: output handshakes, {traffic}");
    }
}

/// Verilator -Wall on the wrapper and the library: no warning at all.
fn lint(case: &Case) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dut.v"), case.wrapper()).unwrap();
    let out = Command::new("verilator")
        .current_dir(dir.path())
        .args(["--lint-only", "-Wall", "-Wno-DECLFILENAME", "--top-module", "dut", "dut.v"])
        .args(library())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && text.trim().is_empty(),
        "{} {:?}:\n{text}",
        case.module,
        case.params
    );
}

fn random_codes(rng: &mut ChaCha8Rng, n: usize, bits: u32, signed: bool) -> Vec<i64> {
    let f = FixedFormat::new(signed, bits, 0).unwrap();
    (0..n).map(|_| rng.gen_range(f.min()..=f.max())).collect()
}

fn beats(codes: &[i64], lanes: usize) -> Vec<Vec<i64>> {
    codes.chunks(lanes).map(<[i64]>::to_vec).collect()
}

fn skid_case(rng: &mut ChaCha8Rng) -> Case {
    let bits = rng.gen_range(2..=12);
    let codes = random_codes(rng, 40, bits, true);
    Case {
        module: "sk_skid",
        comb: None,
        params: vec![("W", bits as i64)],
        bits,
        signed: true,
        in_lanes: 1,
        out_lanes: 1,
        inputs: beats(&codes, 1),
        expected: beats(&codes, 1),
        model: vec![Part::Skid],
    }
}

fn fifo_case(rng: &mut ChaCha8Rng) -> Case {
    let bits = rng.gen_range(2..=12);
    let depth = rng.gen_range(2..=9);
    let n = rng.gen_range(1..=60);
    let codes = random_codes(rng, n, bits, true);
    Case {
        module: "sk_fifo",
        comb: None,
        params: vec![("W", bits as i64), ("DEPTH", depth as i64)],
        bits,
        signed: true,
        in_lanes: 1,
        out_lanes: 1,
        inputs: beats(&codes, 1),
        expected: beats(&codes, 1),
        model: vec![Part::Fifo { depth }],
    }
}

fn dwc_case(rng: &mut ChaCha8Rng) -> Case {
    let sizes = [1usize, 2, 3, 4, 6, 12];
    let a = sizes[rng.gen_range(0..sizes.len())];
    let b = sizes[rng.gen_range(0..sizes.len())];
    let l = a * b / gcd(a, b);
    let bits = rng.gen_range(2..=8);
    let words = rng.gen_range(1..=6);
    let codes = random_codes(rng, l * words, bits, false);
    // A beat split into narrower ones may hold its beat instead of a word
    // register (HOLD): half of those.
    let hold = l == a && b < a && rng.gen_bool(0.5);
    let mut params = vec![("BITS", bits as i64), ("A", a as i64), ("B", b as i64), ("L", l as i64)];
    if hold {
        params.push(("HOLD", 1));
    }
    Case {
        module: "sk_dwc",
        comb: None,
        params,
        bits,
        signed: false,
        in_lanes: a,
        out_lanes: b,
        inputs: beats(&codes, a),
        expected: beats(&codes, b),
        model: vec![Part::Dwc { a, b, l, hold }],
    }
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Windows of `images` (H, W, C) images, in the window generator's order.
#[allow(clippy::too_many_arguments)]
fn windows(
    pixels: &[i64],
    c: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
    p: [usize; 2],
) -> Vec<Vec<i64>> {
    let per = c * h * w;
    let (hp, wp) = (h + 2 * p[0], w + 2 * p[1]);
    let mut out = Vec::new();
    for img in pixels.chunks(per) {
        let at = |y: usize, x: usize, ch: usize| -> i64 {
            if y < p[0] || y >= p[0] + h || x < p[1] || x >= p[1] + w {
                0
            } else {
                img[((y - p[0]) * w + (x - p[1])) * c + ch]
            }
        };
        let mut y = 0;
        while y + k[0] <= hp {
            let mut x = 0;
            while x + k[1] <= wp {
                let mut win = Vec::new();
                for ky in 0..k[0] {
                    for kx in 0..k[1] {
                        for ch in 0..c {
                            win.push(at(y + ky, x + kx, ch));
                        }
                    }
                }
                out.push(win);
                x += s[1];
            }
            y += s[0];
        }
    }
    out
}

fn window_case(rng: &mut ChaCha8Rng) -> Case {
    let c = rng.gen_range(1..=3);
    let (h, w) = (rng.gen_range(1..=6), rng.gen_range(1..=6));
    // Padding below the kernel size (PyTorch allows at most half of it): with
    // more, the windows of the next image's padding rows go out before its
    // pixels arrive, which a finite test would see as extra beats.
    let kh = rng.gen_range(1..=(h + 2).min(4));
    let kw = rng.gen_range(1..=(w + 2).min(4));
    let k = [kh, kw];
    let p = [rng.gen_range(0..kh.min(3)), rng.gen_range(0..kw.min(3))];
    let k = [k[0].min(h + 2 * p[0]), k[1].min(w + 2 * p[1])];
    let s = [rng.gen_range(1..=3), rng.gen_range(1..=3)];
    let n = k[0] * k[1] * c;
    let divisors: Vec<usize> = (1..=n).filter(|d| n % d == 0).collect();
    let chunk = divisors[rng.gen_range(0..divisors.len())];
    let repeat = rng.gen_range(1..=3);
    let compact = rng.gen_bool(0.5);
    let bits = rng.gen_range(2..=8);
    let images = rng.gen_range(1..=3);
    let pixels = random_codes(rng, images * c * h * w, bits, true);
    let mut expected = Vec::new();
    for win in windows(&pixels, c, h, w, k, s, p) {
        for _ in 0..repeat {
            expected.extend(beats(&win, chunk));
        }
    }
    Case {
        module: "sk_window",
        comb: None,
        params: vec![
            ("BITS", bits as i64),
            ("C", c as i64),
            ("H", h as i64),
            ("W", w as i64),
            ("KH", k[0] as i64),
            ("KW", k[1] as i64),
            ("SH", s[0] as i64),
            ("SW", s[1] as i64),
            ("PH", p[0] as i64),
            ("PW", p[1] as i64),
            ("CHUNK", chunk as i64),
            ("REPEAT", repeat as i64),
            ("COMPACT", compact as i64),
        ],
        bits,
        signed: true,
        in_lanes: c,
        out_lanes: chunk,
        inputs: beats(&pixels, c),
        expected,
        model: vec![Part::Window {
            h,
            w,
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            ph: p[0],
            pw: p[1],
            beats: n / chunk,
            repeat,
            compact,
        }],
    }
}

/// Every window's maximum per channel (a pixel of C codes each).
fn window_maxima(
    pixels: &[i64],
    c: usize,
    h: usize,
    w: usize,
    k: [usize; 2],
    s: [usize; 2],
) -> Vec<Vec<i64>> {
    windows(pixels, c, h, w, k, s, [0, 0])
        .into_iter()
        .map(|win| {
            (0..c).map(|ch| win.iter().skip(ch).step_by(c).copied().max().unwrap()).collect()
        })
        .collect()
}

fn maxpool_case(rng: &mut ChaCha8Rng) -> Case {
    let c = rng.gen_range(1..=3);
    let (h, w) = (rng.gen_range(2..=6), rng.gen_range(2..=6));
    let kh = rng.gen_range(1..=h.min(3));
    let k = [kh, rng.gen_range(1..=w.min(3))];
    let s = [rng.gen_range(1..=2), rng.gen_range(1..=2)];
    let bits = rng.gen_range(2..=8);
    let signed = rng.gen_bool(0.5);
    let images = rng.gen_range(1..=3);
    let pixels = random_codes(rng, images * c * h * w, bits, signed);
    let expected = window_maxima(&pixels, c, h, w, k, s);
    Case {
        module: "sk_maxpool",
        comb: None,
        params: vec![
            ("BITS", bits as i64),
            ("SIGNED", signed as i64),
            ("C", c as i64),
            ("H", h as i64),
            ("W", w as i64),
            ("KH", k[0] as i64),
            ("KW", k[1] as i64),
            ("SH", s[0] as i64),
            ("SW", s[1] as i64),
        ],
        bits,
        signed,
        in_lanes: c,
        out_lanes: c,
        inputs: beats(&pixels, c),
        expected,
        model: vec![Part::Window {
            h,
            w,
            kh: k[0],
            kw: k[1],
            sh: s[0],
            sw: s[1],
            ph: 0,
            pw: 0,
            beats: 1,
            repeat: 1,
            compact: false,
        }],
    }
}

/// Windows that do not overlap (with gaps between them where the stride
/// passes the kernel, and rows and columns past the last window), the
/// channels in chunks of P codes a beat; the row buffer from one word
/// (a register) to many, and no rows at all.
fn maxpool_serial_case(rng: &mut ChaCha8Rng) -> Case {
    let p = rng.gen_range(1..=3);
    let c = p * rng.gen_range(1..=3);
    let (h, w) = (rng.gen_range(2..=7), rng.gen_range(2..=7));
    let s = [rng.gen_range(1..=h.min(3)), rng.gen_range(1..=w.min(3))];
    let k = [rng.gen_range(1..=s[0]), rng.gen_range(1..=s[1])];
    let bits = rng.gen_range(2..=8);
    let signed = rng.gen_bool(0.5);
    let images = rng.gen_range(1..=3);
    let pixels = random_codes(rng, images * c * h * w, bits, signed);
    let maxima: Vec<i64> = window_maxima(&pixels, c, h, w, k, s).concat();
    Case {
        module: "sk_maxpool_serial",
        comb: None,
        params: vec![
            ("BITS", bits as i64),
            ("SIGNED", signed as i64),
            ("C", c as i64),
            ("P", p as i64),
            ("H", h as i64),
            ("W", w as i64),
            ("KH", k[0] as i64),
            ("KW", k[1] as i64),
            ("SH", s[0] as i64),
            ("SW", s[1] as i64),
        ],
        bits,
        signed,
        in_lanes: p,
        out_lanes: p,
        inputs: beats(&pixels, p),
        expected: beats(&maxima, p),
        model: vec![Part::PoolSerial { g: c / p, h, w, kh: k[0], kw: k[1], sh: s[0], sw: s[1] }],
    }
}

fn vecbuf_case(rng: &mut ChaCha8Rng) -> Case {
    let chunk = rng.gen_range(1..=4);
    let words = rng.gen_range(1..=6);
    let repeat = rng.gen_range(1..=4);
    let bits = rng.gen_range(2..=8);
    let vectors = rng.gen_range(1..=4);
    let codes = random_codes(rng, vectors * words * chunk, bits, false);
    let mut expected = Vec::new();
    for v in codes.chunks(words * chunk) {
        for _ in 0..repeat {
            expected.extend(beats(v, chunk));
        }
    }
    Case {
        module: "sk_vecbuf",
        comb: None,
        params: vec![
            ("BITS", bits as i64),
            ("CHUNK", chunk as i64),
            ("WORDS", words as i64),
            ("REPEAT", repeat as i64),
        ],
        bits,
        signed: false,
        in_lanes: chunk,
        out_lanes: chunk,
        inputs: beats(&codes, chunk),
        expected,
        model: vec![Part::Vecbuf { words, repeat }],
    }
}

fn relu_case(rng: &mut ChaCha8Rng) -> Case {
    let (lanes, bits) = (rng.gen_range(1..=5), rng.gen_range(2..=10));
    let codes = random_codes(rng, lanes * 30, bits, true);
    let expected: Vec<i64> = codes.iter().map(|&v| v.max(0)).collect();
    Case {
        module: "sk_relu",
        comb: Some(format!(
            "sk_relu #(.LANES({lanes}), .BITS({bits})) u_part (.s_data(s_data), .s_valid(s_valid), \
             .s_ready(s_ready), .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready));"
        )),
        params: vec![("LANES", lanes as i64), ("BITS", bits as i64)],
        bits,
        signed: true,
        in_lanes: lanes,
        out_lanes: lanes,
        inputs: beats(&codes, lanes),
        expected: beats(&expected, lanes),
        model: vec![],
    }
}

/// `n` codes of `f` from a few values, so that ties are common, at both ends
/// of the range and on both sides of zero (a comparator that took signed
/// codes as unsigned, or the reverse, orders them wrongly).
fn tie_prone_codes(rng: &mut ChaCha8Rng, f: FixedFormat, n: usize) -> Vec<i64> {
    let pool: Vec<i64> = [f.min(), f.min() + 1, -1, 0, 1, f.max() - 1, f.max()]
        .into_iter()
        .filter(|v| (f.min()..=f.max()).contains(v))
        .collect();
    (0..n).map(|_| pool[rng.gen_range(0..pool.len())]).collect()
}

/// The argmax's index (lowest on ties) as the output, one code wide.
fn argmax_case(rng: &mut ChaCha8Rng) -> Case {
    let n: usize = rng.gen_range(1..=11);
    // From 4 bits, as wide as the widest index, to 8.
    let bits = rng.gen_range(4..=8);
    let signed = rng.gen_bool(0.5);
    let iw = (usize::BITS - (n.max(2) - 1).leading_zeros()) as i64;
    let codes = tie_prone_codes(rng, FixedFormat::new(signed, bits, 0).unwrap(), n * 40);
    let expected = codes
        .chunks(n)
        .map(|c| {
            let best = c.iter().max().unwrap();
            vec![c.iter().position(|v| v == best).unwrap() as i64]
        })
        .collect();
    Case {
        module: "sk_argmax",
        comb: Some(format!(
            "assign m_valid = s_valid;\nassign s_ready = m_ready;\n\
             wire [{}:0] unused_max;\nwire [{}:0] index;\n\
             sk_argmax #(.N({n}), .BITS({bits}), .SIGNED({}), .IW({iw})) u_part \
             (.x(s_data), .max(unused_max), .index(index));\n\
             {}",
            bits - 1,
            iw - 1,
            signed as i64,
            if bits as i64 > iw {
                format!("assign m_data = {{{}'b0, index}};", bits as i64 - iw)
            } else {
                "assign m_data = index;".to_string()
            }
        )),
        params: vec![("N", n as i64), ("BITS", bits as i64), ("SIGNED", signed as i64), ("IW", iw)],
        bits,
        signed,
        in_lanes: n,
        out_lanes: 1,
        inputs: beats(&codes, n),
        expected,
        model: vec![],
    }
}

/// The gather with a running argmax: words of L codes from beats of A, the
/// index of the word's largest (lowest on ties) as one more code above them.
fn argmax_gather_case(rng: &mut ChaCha8Rng) -> Case {
    let sizes = [1usize, 2, 3, 5];
    let a = sizes[rng.gen_range(0..sizes.len())];
    let l = a * rng.gen_range(1..=4);
    let bits = rng.gen_range(4..=8);
    let signed = rng.gen_bool(0.5);
    let iw = (usize::BITS - (l.max(2) - 1).leading_zeros()) as i64;
    // Ties within a beat and across.
    let codes = tie_prone_codes(rng, FixedFormat::new(signed, bits, 0).unwrap(), l * 30);
    let expected = codes
        .chunks(l)
        .map(|c| {
            let best = c.iter().max().unwrap();
            let mut word = c.to_vec();
            word.push(c.iter().position(|v| v == best).unwrap() as i64);
            word
        })
        .collect();
    let index = if bits as i64 > iw {
        format!("{{{}'b0, index}}", bits as i64 - iw)
    } else {
        "index".to_string()
    };
    Case {
        module: "sk_argmax_gather",
        comb: Some(format!(
            "wire [{}:0] word;\nwire [{}:0] index;\n\
             sk_argmax_gather #(.BITS({bits}), .A({a}), .L({l}), .SIGNED({}), .IW({iw})) u_part \
             (.clk(clk), .rst(rst), .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready), \
             .m_data(word), .m_index(index), .m_valid(m_valid), .m_ready(m_ready));\n\
             assign m_data = {{{index}, word}};",
            l * bits as usize - 1,
            iw - 1,
            signed as i64,
        )),
        params: vec![
            ("A", a as i64),
            ("L", l as i64),
            ("BITS", bits as i64),
            ("SIGNED", signed as i64),
        ],
        bits,
        signed,
        in_lanes: a,
        out_lanes: l + 1,
        inputs: beats(&codes, a),
        expected,
        // Its handshakes are the gather's.
        model: vec![Part::Dwc { a, b: l, l, hold: false }],
    }
}

/// The adder tree in a pipeline with a local stall (as the matrix-vector unit
/// uses it): N signed lanes in, their sum out as two codes (low and high
/// halves), after the tree's registers and an output register.
fn addtree_case(rng: &mut ChaCha8Rng) -> Case {
    let n: usize = rng.gen_range(1..=12);
    let h = (usize::BITS - (n - 1).leading_zeros()) as i64; // ceil(log2(n))
    let h = h + rng.gen_range(0..=1); // a taller tree than needed must work too
    let pipe = rng.gen_range(0..=3);
    let bits = rng.gen_range(6..=8); // IW, wider than H (up to 5)
    let latency = 1 + if pipe > 0 { h / pipe } else { 0 };
    let codes = random_codes(rng, n * 30, bits, true);
    let expected = codes
        .chunks(n)
        .map(|c| {
            let sum: i64 = c.iter().sum();
            let low = sum.rem_euclid(1 << bits);
            let low = if low >= 1 << (bits - 1) { low - (1 << bits) } else { low };
            vec![low, sum >> bits]
        })
        .collect();
    let ow = bits as i64 + h;
    Case {
        module: "sk_addtree",
        comb: Some(format!(
            "localparam L = {latency};\n\
             reg [L-1:0] valid_q;\n\
             wire en = !valid_q[L-1] || m_ready;\n\
             assign s_ready = en;\n\
             assign m_valid = valid_q[L-1];\n\
             wire [{}:0] sum;\n\
             sk_addtree #(.N({n}), .IW({bits}), .H({h}), .PIPE({pipe})) u_part \
             (.clk(clk), .en(en), .x(s_data), .y(sum));\n\
             reg [{}:0] sum_q;\n\
             always @(posedge clk) begin\n\
             if (rst) valid_q <= {{L{{1'b0}}}};\n\
             else if (en) valid_q <= {};\n\
             if (en) sum_q <= sum;\n\
             end\n\
             assign m_data = {{{{{}{{sum_q[{}]}}}}, sum_q}};",
            ow - 1,
            ow - 1,
            if latency == 1 { "s_valid".to_string() } else { "{valid_q[L-2:0], s_valid}".into() },
            2 * bits as i64 - ow,
            ow - 1,
        )),
        params: vec![],
        bits,
        signed: true,
        in_lanes: n,
        out_lanes: 2,
        inputs: beats(&codes, n),
        expected,
        model: vec![Part::Pipe { depth: latency as usize, chunks: 1 }],
    }
}

fn check_cases(make: fn(&mut ChaCha8Rng) -> Case, seeds: std::ops::Range<u64>) {
    if !have("iverilog") {
        return;
    }
    let lint_too = have("verilator");
    for seed in seeds {
        let case = make(&mut ChaCha8Rng::seed_from_u64(seed));
        check(&case, seed);
        if lint_too {
            lint(&case);
        }
    }
}

/// sk_spram_rom behind a wrapper that takes two kinds of beats: a load
/// slice (bit 16 clear: the slice in bits 15:0) or a read (bit 16 set: the
/// address below). A read goes out when the word it read is taken; no read
/// is issued while one is outstanding.
fn spram_rom_case(rng: &mut ChaCha8Rng) -> Case {
    // Widths of one to three SPRAMs; depths across the 16384-word bank edge.
    let w: u32 = rng.gen_range(1..=40);
    let depth: usize =
        if rng.gen_bool(0.5) { rng.gen_range(16380..=16390) } else { rng.gen_range(1..=300) };
    let aw = if depth > 1 { usize::BITS - (depth - 1).leading_zeros() } else { 1 };
    let k = w.div_ceil(16) as usize;
    let words: Vec<i64> = (0..depth).map(|_| rng.gen_range(0..1i64 << w)).collect();
    let mut inputs: Vec<Vec<i64>> = Vec::new();
    for &word in &words {
        for j in 0..k {
            inputs.push(vec![(word >> (16 * j)) & 0xffff]);
        }
    }
    // Reads of the first and last words and a few at random.
    let mut reads = vec![0, depth - 1];
    reads.extend((0..40).map(|_| rng.gen_range(0..depth)));
    let mut expected = Vec::new();
    for &a in &reads {
        inputs.push(vec![(1 << 16) | a as i64]);
        let word = words[a];
        expected.push(vec![word & 0x1_ffff, (word >> 17) & 0x1_ffff, word >> 34]);
    }
    let body = format!(
        "wire is_read = s_data[16];\n\
         wire ld_ready;\n\
         reg busy_q;\n\
         wire en = s_valid && is_read && !busy_q;\n\
         wire [{wm}:0] q;\n\
         sk_spram_rom #(.W({w}), .DEPTH({depth}), .AW({aw})) u_part (.clk(clk), .rst(rst),\n\
         .ld_data(s_data[15:0]), .ld_valid(s_valid && !is_read), .ld_ready(ld_ready),\n\
         .en(en), .addr(s_data[{am}:0]), .q(q));\n\
         always @(posedge clk) begin\n\
             if (rst) busy_q <= 1'b0;\n\
             else if (en) busy_q <= 1'b1;\n\
             else if (m_ready) busy_q <= 1'b0;\n\
         end\n\
         assign s_ready = is_read ? !busy_q : ld_ready;\n\
         assign m_valid = busy_q;\n\
         assign m_data = {{{pad}'d0, q}};\n\
         // verilator lint_off UNUSEDSIGNAL\n\
         wire unused = ^s_data;\n\
         // verilator lint_on UNUSEDSIGNAL",
        wm = w - 1,
        am = aw - 1,
        pad = 51 - w,
    );
    Case {
        module: "sk_spram_rom",
        comb: Some(body),
        params: vec![("W", w as i64), ("DEPTH", depth as i64), ("AW", aw as i64)],
        bits: 17,
        signed: false,
        in_lanes: 1,
        out_lanes: 3,
        inputs,
        expected,
        model: vec![],
    }
}

/// The flash reader against the flash model (asleep at power-up, awake
/// T_RES cycles after 0xAB, the reader waiting exactly that long): every
/// byte from the offset on, in order, the SPI clock from half the system
/// clock to a sixth, and bytes held back by the consumer.
fn flash_reader_case(rng: &mut ChaCha8Rng) -> Case {
    let offset = rng.gen_range(0..1 << 24) & !0xff | rng.gen_range(0..256);
    let bytes = rng.gen_range(1..=300).min((1 << 24) - offset);
    let half = rng.gen_range(1..=3);
    let wake = rng.gen_range(1..=40);
    let content = |a: usize| ((a * 37 + (a >> 8)) & 0xff) as i64;
    let body = format!(
        "wire sck;
         wire ss_n;
         wire mosi;
         wire miso;
         wire done;
         sk_flash_reader #(.OFFSET({offset}), .BYTES({bytes}), .HALF({half}), .WAKE({wake}))
         u_part (.clk(clk), .rst(rst), .spi_sck(sck), .spi_ss_n(ss_n), .spi_mosi(mosi),
         .spi_miso(miso), .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready), .done(done));
         spi_flash #(.T_RES({wake})) u_flash (.clk(clk), .sck(sck), .ss_n(ss_n), .mosi(mosi),
         .miso(miso));
         assign s_ready = 1'b1;
         // verilator lint_off UNUSEDSIGNAL
         wire unused = ^s_data ^ s_valid ^ done;
         // verilator lint_on UNUSEDSIGNAL"
    );
    Case {
        module: "sk_flash_reader",
        comb: Some(body),
        params: vec![],
        bits: 8,
        signed: false,
        in_lanes: 1,
        out_lanes: 1,
        inputs: vec![vec![0]],
        expected: (offset..offset + bytes).map(|a| vec![content(a)]).collect(),
        model: vec![],
    }
}

#[test]
fn flash_reader_reads_every_byte_from_the_offset() {
    if !have("iverilog") {
        return;
    }
    for seed in 0..6 {
        let case = flash_reader_case(&mut ChaCha8Rng::seed_from_u64(seed));
        let dir = build(&case);
        for (valid, ready) in [(16, 5), (16, 16)] {
            let (_, outs) = run(&case, dir.path(), seed as u32 + 1, valid, ready);
            let got: Vec<Vec<i64>> = outs.iter().map(|(l, _)| l.clone()).collect();
            assert_eq!(got, case.expected, "seed {seed}: ready {ready}/16");
        }
        if have("verilator") {
            lint(&case);
        }
    }
}

/// Loaded slice by slice with random gaps, read back with back-pressure:
/// every word as it was loaded, across SPRAMs side by side and banks.
#[test]
fn spram_rom_reads_back_every_loaded_word() {
    if !have("iverilog") {
        return;
    }
    let lint_too = have("verilator");
    for seed in 0..6 {
        let case = spram_rom_case(&mut ChaCha8Rng::seed_from_u64(seed));
        let dir = build(&case);
        let what = format!("{} {:?} (seed {seed})", case.module, case.params);
        for (valid, ready) in [(9, 7), (16, 16)] {
            let (ins, outs) = run(&case, dir.path(), seed as u32 + 1, valid, ready);
            assert_eq!(ins.len(), case.inputs.len(), "{what}: inputs taken");
            let got: Vec<Vec<i64>> = outs.iter().map(|(l, _)| l.clone()).collect();
            assert_eq!(got, case.expected, "{what}: valid {valid}/16, ready {ready}/16");
        }
        if lint_too {
            lint(&case);
        }
    }
}

#[test]
fn skid_buffer_passes_every_beat_in_order() {
    check_cases(skid_case, 0..4);
}

#[test]
fn fifo_passes_every_beat_in_order() {
    check_cases(fifo_case, 0..12);
}

#[test]
fn width_converter_regroups_codes_in_order() {
    check_cases(dwc_case, 0..24);
}

#[test]
fn window_generator_gives_every_padded_strided_window() {
    check_cases(window_case, 0..40);
}

#[test]
fn max_pooling_gives_the_maximum_of_every_window() {
    check_cases(maxpool_case, 0..16);
}

#[test]
fn serial_max_pooling_gives_the_maximum_of_every_window_chunk_by_chunk() {
    check_cases(maxpool_serial_case, 0..24);
}

#[test]
fn relu_zeroes_negative_codes() {
    check_cases(relu_case, 0..4);
}

#[test]
fn argmax_gives_the_lowest_index_of_the_largest() {
    check_cases(argmax_case, 0..12);
}

#[test]
fn argmax_gather_keeps_the_lowest_index_of_the_largest() {
    check_cases(argmax_gather_case, 0..6);
}

#[test]
fn adder_tree_sums_exactly_at_every_pipelining() {
    check_cases(addtree_case, 0..16);
}

#[test]
fn vector_buffer_repeats_every_vector() {
    check_cases(vecbuf_case, 0..20);
}

/// Elaborates module `top` of `text` with the library on `tool` (iverilog or
/// verilator): whether it succeeded, and what the tool said.
fn elaborate(tool: &str, text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("top.v"), text).unwrap();
    let args: &[&str] = match tool {
        "iverilog" => &["-g2005", "-s", "top", "-o", "/dev/null", "top.v"],
        _ => &["--lint-only", "-Wno-fatal", "--top-module", "top", "top.v"],
    };
    let o = Command::new(tool).current_dir(dir.path()).args(args).args(library()).output().unwrap();
    let said = String::from_utf8_lossy(&o.stdout).to_string() + &String::from_utf8_lossy(&o.stderr);
    (o.status.success(), said)
}

/// Parameters no design can have stop elaboration, in every tool, with the
/// module's own name for the problem; the same module with good parameters
/// elaborates.
#[test]
fn impossible_parameters_are_refused_at_elaboration() {
    if !have("iverilog") {
        return;
    }
    let cases: [(&str, &str, &str, &str); 11] = [
        ("sk_addtree", ".N(5), .IW(4), .H(2)", "[19:0] x; wire [5:0] y", ".x(x), .y(y)"),
        (
            "sk_argmax",
            ".N(5), .BITS(4), .IW(2)",
            "[19:0] x; wire [3:0] m; wire [1:0] i",
            ".x(x), .max(m), .index(i)",
        ),
        ("sk_dwc", ".BITS(4), .A(2), .B(3), .L(4)", "", ""),
        ("sk_argmax_gather", ".BITS(4), .A(2), .L(9), .IW(4)", "", ""),
        ("sk_fifo", ".W(4), .DEPTH(0)", "", ""),
        ("sk_window", ".C(1), .H(4), .W(4), .KH(3), .KW(3), .CHUNK(4)", "", ""),
        ("sk_mvu", ".SIMD(4), .H(1), .KIND(1), .CODE(1)", "", ""),
        ("sk_uart_rx", ".CLKS(3)", "", ""),
        ("sk_mvu", ".SIMD(2), .H(1), .KIND(0), .CODE(5), .DSP(1)", "", ""),
        ("sk_argmax_pipe", ".N(4), .BITS(4), .IW(2), .LEVELS(0)", "", ""),
        ("sk_dwc", ".BITS(4), .A(2), .B(4), .L(4), .HOLD(1)", "", ""),
    ];
    let needs = [
        "sk_addtree_needs_N_at_most_2_pow_H",
        "sk_argmax_needs_IW_bits_to_count_N",
        "sk_dwc_needs_A_and_B_dividing_L",
        "sk_argmax_gather_needs_A_dividing_L",
        "sk_fifo_needs_DEPTH_at_least_1",
        "sk_window_needs_CHUNK_dividing_KH_KW_C",
        "sk_mvu_needs_SIMD_at_most_2_pow_H",
        "sk_uart_rx_needs_CLKS_at_least_4",
        "sk_mvu_needs_DSP_lanes_fixed_with_16_bit_operands",
        "sk_argmax_pipe_needs_N_at_least_2_and_LEVELS_at_least_1",
        "sk_dwc_holds_only_a_beat_split_into_narrower_beats",
    ];
    let tools: Vec<&str> =
        ["iverilog", "verilator"].into_iter().filter(|t| *t == "iverilog" || have(t)).collect();
    for ((module, params, wires, ports), need) in cases.into_iter().zip(needs) {
        // Ports left open: elaboration, not connection, is under test.
        let decl = if wires.is_empty() { String::new() } else { format!("wire {wires};") };
        let top = format!("module top;\n{decl}\n{module} #({params}) u ({ports});\nendmodule\n");
        for tool in &tools {
            let (ok, said) = elaborate(tool, &top);
            assert!(!ok && said.contains(need), "{tool}, {module} {params}: {said}");
        }
    }
    // A good sk_addtree (N = 4 = 2^H) elaborates.
    let good = "module top;\nwire [15:0] x; wire [5:0] y;\n\
                sk_addtree #(.N(4), .IW(4), .H(2)) u (.x(x), .y(y));\nendmodule\n";
    let (ok, said) = elaborate("iverilog", good);
    assert!(ok, "{said}");
}

/// `sim/sb_mac16.v`, the DSP block's model the testbenches use, against
/// Yosys's own model of SB_MAC16 (its `ice40/cells_sim.v`): `sk_mul16` on
/// each gives the signed product of 3,000 random and extreme operands.
#[test]
fn the_dsp_model_multiplies_as_yosys_models_the_block() {
    if !have("iverilog") || !have("yosys") {
        return;
    }
    // Yosys's data beside its binary: PREFIX/bin/yosys, PREFIX/share/yosys.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let bin = std::env::split_paths(&path).map(|d| d.join("yosys")).find(|p| p.exists()).unwrap();
    let prefix = bin.canonicalize().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let yosys_model = prefix.join("share/yosys/ice40/cells_sim.v");
    assert!(yosys_model.exists(), "{} is missing", yosys_model.display());
    let ours = Path::new(ROOT).join("sim/sb_mac16.v");
    let mul16 = Path::new(ROOT).join("hdl/sk_mul16.v");
    let dir = tempfile::tempdir().unwrap();
    let tb = "module tb;\n\
              reg [15:0] a, b; wire [31:0] o; reg signed [31:0] e;\n\
              integer i, bad;\n\
              sk_mul16 u (.a(a), .b(b), .o(o));\n\
              initial begin\n\
                bad = 0;\n\
                for (i = 0; i < 3000; i = i + 1) begin\n\
                  a = i < 4 ? {i[0], {15{~i[0]}}} : $random; b = i < 4 ? {i[1], {15{~i[1]}}} : $random;\n\
                  #1 e = $signed(a) * $signed(b);\n\
                  if (o !== e) bad = bad + 1;\n\
                end\n\
                $display(\"checked %0d bad %0d\", i, bad);\n\
                $finish;\n\
              end\n\
              endmodule\n";
    std::fs::write(dir.path().join("tb.v"), tb).unwrap();
    for model in [&ours, &yosys_model] {
        let compiled = Command::new("iverilog")
            .current_dir(dir.path())
            .args(["-g2012", "-DNO_ICE40_DEFAULT_ASSIGNMENTS", "-s", "tb", "-o", "tb.vvp", "tb.v"])
            .arg(&mul16)
            .arg(model)
            .output()
            .unwrap();
        assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
        let run = Command::new("vvp").current_dir(dir.path()).arg("tb.vvp").output().unwrap();
        let said = String::from_utf8_lossy(&run.stdout);
        assert!(said.contains("checked 3000 bad 0"), "{}: {said}", model.display());
    }
}

/// `sk_argmax_pipe` on Icarus against a reference: random N, widths,
/// signedness and register spacings, codes drawn from few values so ties
/// are common, the enable low a third of the clocks. Every vector's index
/// and maximum leave exactly STAGES enabled clocks after it entered, the
/// lowest index winning ties.
#[test]
fn pipelined_argmax_gives_the_lowest_index_of_the_largest_stages_later() {
    if !have("iverilog") {
        return;
    }
    let lib = Path::new(ROOT).join("hdl");
    for seed in 0..12u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let n = rng.gen_range(2..=12usize);
        let bits = rng.gen_range(2..=6u32);
        let signed = rng.gen_bool(0.5);
        let levels = rng.gen_range(1..=4u32);
        let iw = (usize::BITS - (n - 1).leading_zeros()).max(1);
        let depth = usize::BITS - (n - 1).leading_zeros();
        let stages = depth.div_ceil(levels);
        let count = 40;
        let f = FixedFormat::new(signed, bits, 0).unwrap();
        let vectors: Vec<Vec<i64>> =
            (0..count).map(|_| (0..n).map(|_| f.min() + rng.gen_range(0..3)).collect()).collect();
        let words: Vec<String> = vectors
            .iter()
            .map(|v| {
                let word = v
                    .iter()
                    .rev()
                    .fold(0u128, |acc, &c| (acc << bits) | (c as u128 & ((1u128 << bits) - 1)));
                format!("{word:x}")
            })
            .collect();
        let cycles = 3 * count;
        let en: Vec<String> =
            (0..cycles).map(|_| if rng.gen_bool(0.67) { "1" } else { "0" }.to_string()).collect();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.hex"), words.join("\n")).unwrap();
        std::fs::write(dir.path().join("en.hex"), en.join("\n")).unwrap();
        let tb = format!(
            "module tb;\n\
             reg clk = 0; reg en = 0; reg [{w}:0] x;\n\
             wire [{b}:0] m; wire [{i}:0] ix;\n\
             reg [{w}:0] xs [0:{last}]; reg ens [0:{cl}];\n\
             integer c, edges;\n\
             sk_argmax_pipe #(.N({n}), .BITS({bits}), .SIGNED({s}), .IW({iw}), .LEVELS({levels})) \
             u (.clk(clk), .en(en), .x(x), .max(m), .index(ix));\n\
             initial begin\n\
               $readmemh(\"x.hex\", xs); $readmemh(\"en.hex\", ens); edges = 0;\n\
               for (c = 0; c < {cycles}; c = c + 1) begin\n\
                 en = ens[c]; x = xs[edges < {count} ? edges : 0]; #1;\n\
                 if (en && edges >= {stages} && edges - {stages} < {count})\n\
                   $display(\"%0d %0d %0d\", edges - {stages}, ix, m);\n\
                 clk = 1; #1 clk = 0; if (en) edges = edges + 1;\n\
               end\n\
               $finish;\n\
             end\n\
             endmodule\n",
            w = n as u32 * bits - 1,
            b = bits - 1,
            i = iw - 1,
            last = count - 1,
            cl = cycles - 1,
            s = u32::from(signed),
        );
        std::fs::write(dir.path().join("tb.v"), tb).unwrap();
        let compiled = Command::new("iverilog")
            .current_dir(dir.path())
            .args(["-g2005", "-s", "tb", "-o", "tb.vvp", "tb.v"])
            .arg(lib.join("sk_argmax_pipe.v"))
            .arg(lib.join("sk_argmax.v"))
            .output()
            .unwrap();
        assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
        let run = Command::new("vvp").current_dir(dir.path()).arg("tb.vvp").output().unwrap();
        let lines: Vec<String> =
            String::from_utf8_lossy(&run.stdout).lines().map(str::to_string).collect();
        let shown: Vec<&String> = lines.iter().filter(|l| !l.contains("finish")).collect();
        assert!(shown.len() >= count / 2, "seed {seed}: {} results", shown.len());
        for (k, line) in shown.iter().enumerate() {
            let v = &vectors[k];
            let best = v.iter().copied().max().unwrap();
            let index = v.iter().position(|&c| c == best).unwrap();
            let code = (best as u64) & ((1u64 << bits) - 1);
            assert_eq!(
                **line,
                format!("{k} {index} {code}"),
                "seed {seed}: N {n}, {bits} bits, signed {signed}, levels {levels}"
            );
        }
    }
}

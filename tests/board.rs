//! Boards as data and the iCE40 PLL: the built-in board files, bad board
//! files refused by name, and the PLL's dividers against icepll's.

use std::process::Command;

use shiftkit::device::board::Board;
use shiftkit::device::pll;
use shiftkit::device::Family;

#[test]
fn the_built_in_boards_are_ice40_boards_with_distinct_pins() {
    let boards = Board::builtin();
    let names: Vec<&str> = boards.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names, ["icebreaker", "upduino3"]);
    for b in &boards {
        let device = b.device().unwrap();
        assert_eq!(device.family, Family::Ice40, "{}", b.name);
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
    assert!(board.check_device(&xc7).unwrap_err().contains("iCE40"));
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

//! The PLLs of the board tops: the dividers that bring a board's
//! oscillator nearest a requested clock.
//!
//! iCE40 (`SB_PLL40_PAD`, `SB_PLL40_CORE`) in SIMPLE feedback, found as
//! `icepll` (fpga-icestorm) finds them, with the PLL's limits from Lattice's
//! iCE40 sysCLOCK PLL design guide: `F_PFD = F_IN / (DIVR + 1)`,
//! `F_VCO = F_PFD * (DIVF + 1)`, `F_OUT = F_VCO / 2^DIVQ`; FILTER_RANGE
//! follows from `F_PFD`.
//!
//! ECP5 (`EHXPLLL`, CLKOP fed back), found as `ecppll` (Project Trellis)
//! finds them: `F_PFD = F_IN / CLKI_DIV`, `F_VCO = F_PFD * CLKFB_DIV *
//! CLKOP_DIV`, `F_OUT = F_VCO / CLKOP_DIV`.

use serde::{Deserialize, Serialize};

use super::Family;

/// A PLL configuration of one family.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Pll {
    Ice40(Ice40Pll),
    Ecp5(Ecp5Pll),
}

impl Pll {
    /// The input (oscillator) clock, MHz.
    pub fn in_mhz(&self) -> f64 {
        match self {
            Pll::Ice40(p) => p.in_mhz,
            Pll::Ecp5(p) => p.in_mhz,
        }
    }

    /// The achieved output clock, MHz.
    pub fn out_mhz(&self) -> f64 {
        match self {
            Pll::Ice40(p) => p.out_mhz,
            Pll::Ecp5(p) => p.out_mhz,
        }
    }
}

/// The configuration of `family`'s PLL whose output is nearest `out_mhz`
/// from an input of `in_mhz`.
pub fn nearest(family: Family, in_mhz: f64, out_mhz: f64) -> Result<Pll, PllError> {
    match family {
        Family::Ecp5 => ecp5(in_mhz, out_mhz).map(Pll::Ecp5),
        _ => ice40(in_mhz, out_mhz).map(Pll::Ice40),
    }
}

/// The configuration of `family`'s PLL whose output is nearest `out_mhz`
/// and not above it; `None` when the PLL gives nothing that slow.
pub fn at_most(family: Family, in_mhz: f64, out_mhz: f64) -> Option<Pll> {
    match family {
        Family::Ecp5 => ecp5_at_most(in_mhz, out_mhz).map(Pll::Ecp5),
        _ => ice40_at_most(in_mhz, out_mhz).map(Pll::Ice40),
    }
}

/// The fastest oscillator a board file may give (MHz): the fastest input
/// of any family's PLL.
pub const MAX_IN_MHZ: f64 = ECP5_IN_MHZ.1;

/// The PLL's input clock range (MHz).
pub const IN_MHZ: (f64, f64) = (10.0, 133.0);
/// The phase detector's input range (MHz).
const PFD_MHZ: (f64, f64) = (10.0, 133.0);
/// The VCO's range (MHz).
const VCO_MHZ: (f64, f64) = (533.0, 1066.0);
/// The PLL's output clock range (MHz).
pub const OUT_MHZ: (f64, f64) = (16.0, 275.0);

/// The dividers of one iCE40 PLL configuration and the clock they give.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ice40Pll {
    pub divr: u32,
    pub divf: u32,
    pub divq: u32,
    pub filter_range: u32,
    /// The input (oscillator) and the achieved output clock, MHz.
    pub in_mhz: f64,
    pub out_mhz: f64,
}

/// Why no configuration exists.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum PllError {
    #[error("an {family} PLL takes an input clock of {lo} to {hi} MHz, not {mhz} MHz", lo = range.0, hi = range.1)]
    Input { family: &'static str, mhz: f64, range: (f64, f64) },
    #[error(
        "an {family} PLL gives {lo} to {hi} MHz, not {mhz} MHz; below that, clock the design \
         from the oscillator itself",
        lo = range.0,
        hi = range.1
    )]
    Output { family: &'static str, mhz: f64, range: (f64, f64) },
}

fn ice40_input(mhz: f64) -> PllError {
    PllError::Input { family: "iCE40", mhz, range: IN_MHZ }
}

fn ice40_output(mhz: f64) -> PllError {
    PllError::Output { family: "iCE40", mhz, range: OUT_MHZ }
}

fn within(f: f64, (lo, hi): (f64, f64)) -> bool {
    (lo..=hi).contains(&f)
}

/// The configuration whose output is nearest `out_mhz` from an input of
/// `in_mhz` (the first found on ties, dividers in increasing order).
pub fn ice40(in_mhz: f64, out_mhz: f64) -> Result<Ice40Pll, PllError> {
    search(in_mhz, out_mhz, |_| true)
}

/// The configuration whose output is nearest `out_mhz` and not above it (a
/// clock a design is known to make); `None` when the PLL gives nothing
/// that slow.
pub fn ice40_at_most(in_mhz: f64, out_mhz: f64) -> Option<Ice40Pll> {
    let out = out_mhz.min(OUT_MHZ.1);
    search(in_mhz, out, |f| f <= out_mhz).ok().filter(|p| p.out_mhz <= out_mhz)
}

/// The configuration nearest `out_mhz` among the outputs `accept` takes.
fn search(in_mhz: f64, out_mhz: f64, accept: impl Fn(f64) -> bool) -> Result<Ice40Pll, PllError> {
    if !within(in_mhz, IN_MHZ) {
        return Err(ice40_input(in_mhz));
    }
    if !within(out_mhz, OUT_MHZ) {
        return Err(ice40_output(out_mhz));
    }
    let mut best: Option<Ice40Pll> = None;
    for divr in 0..=15u32 {
        let pfd = in_mhz / (divr + 1) as f64;
        if !within(pfd, PFD_MHZ) {
            continue;
        }
        for divf in 0..=127u32 {
            let vco = pfd * (divf + 1) as f64;
            if !within(vco, VCO_MHZ) {
                continue;
            }
            for divq in 1..=6u32 {
                let out = vco / (1u32 << divq) as f64;
                let nearer = accept(out)
                    && best.is_none_or(|b| (out - out_mhz).abs() < (b.out_mhz - out_mhz).abs());
                if nearer {
                    let filter_range = filter_range(pfd);
                    best = Some(Ice40Pll { divr, divf, divq, filter_range, in_mhz, out_mhz: out });
                }
            }
        }
    }
    // A PFD of the input itself (DIVR 0) and a VCO of 533 MHz reach every
    // output of the range checked above (for `ice40`; an `accept` that
    // takes none is `ice40_at_most`'s, which filters).
    best.ok_or(ice40_output(out_mhz))
}

/// The ECP5 PLL's input clock range (MHz), as `ecppll` checks it.
pub const ECP5_IN_MHZ: (f64, f64) = (8.0, 400.0);
/// Its output range (MHz).
pub const ECP5_OUT_MHZ: (f64, f64) = (10.0, 400.0);

/// An ECP5 `EHXPLLL` configuration with CLKOP fed back, and its clocks.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ecp5Pll {
    pub clki_div: u32,
    pub clkfb_div: u32,
    pub clkop_div: u32,
    /// CLKOP's coarse phase: half its period in VCO cycles (as Lattice's
    /// tools set it).
    pub clkop_cphase: u32,
    pub vco_mhz: f64,
    pub in_mhz: f64,
    pub out_mhz: f64,
}

/// The ECP5 configuration whose output is nearest `out_mhz`, on ties the
/// one whose VCO is nearest 600 MHz: `ecppll`'s search (Project Trellis,
/// `calc_pll_params`), in its single precision, so both give the same
/// dividers (checked against it in `tests/board.rs`).
pub fn ecp5(in_mhz: f64, out_mhz: f64) -> Result<Ecp5Pll, PllError> {
    ecp5_search(in_mhz, out_mhz, |_| true)
}

/// The ECP5 configuration nearest `out_mhz` and not above it.
pub fn ecp5_at_most(in_mhz: f64, out_mhz: f64) -> Option<Ecp5Pll> {
    let out = out_mhz.min(ECP5_OUT_MHZ.1);
    ecp5_search(in_mhz, out, |f| f <= out_mhz).ok().filter(|p| p.out_mhz <= out_mhz)
}

fn ecp5_search(
    in_mhz: f64,
    out_mhz: f64,
    accept: impl Fn(f64) -> bool,
) -> Result<Ecp5Pll, PllError> {
    if !within(in_mhz, ECP5_IN_MHZ) {
        return Err(PllError::Input { family: "ECP5", mhz: in_mhz, range: ECP5_IN_MHZ });
    }
    let no_output = PllError::Output { family: "ECP5", mhz: out_mhz, range: ECP5_OUT_MHZ };
    if !within(out_mhz, ECP5_OUT_MHZ) {
        return Err(no_output);
    }
    let (input, output) = (in_mhz as f32, out_mhz as f32);
    // The best so far: its error and VCO in ecppll's single precision.
    let mut best: Option<(f32, f32, Ecp5Pll)> = None;
    for clki_div in 1..=128u32 {
        let pfd = input / clki_div as f32;
        if !(3.125..=400.0).contains(&pfd) {
            continue;
        }
        for clkfb_div in 1..=80u32 {
            for clkop_div in 1..=128u32 {
                let vco = pfd * clkfb_div as f32 * clkop_div as f32;
                if !(400.0..=800.0).contains(&vco) {
                    continue;
                }
                let fout = vco / clkop_div as f32;
                // The clock in double precision from the dividers.
                let out = in_mhz / clki_div as f64 * clkfb_div as f64;
                if !accept(out) {
                    continue;
                }
                let error = (fout - output).abs();
                let better = match &best {
                    None => true,
                    Some((e, v, _)) => {
                        error < *e || (error == *e && (vco - 600.0).abs() < (v - 600.0).abs())
                    }
                };
                if better {
                    // Half a period in VCO cycles, rounded as ecppll's
                    // mixed float and double arithmetic rounds it.
                    let half_period = (1.0 / (fout as f64 * 1e6) * 0.5) as f32;
                    let clkop_cphase = (half_period as f64 * (vco as f64 * 1e6)) as u32;
                    let pll = Ecp5Pll {
                        clki_div,
                        clkfb_div,
                        clkop_div,
                        clkop_cphase,
                        vco_mhz: out * clkop_div as f64,
                        in_mhz,
                        out_mhz: out,
                    };
                    best = Some((error, vco, pll));
                }
            }
        }
    }
    best.map(|(_, _, p)| p).ok_or(no_output)
}

/// The loop filter's setting for a phase detector input of `pfd` MHz.
fn filter_range(pfd: f64) -> u32 {
    match pfd {
        f if f < 17.0 => 1,
        f if f < 26.0 => 2,
        f if f < 44.0 => 3,
        f if f < 66.0 => 4,
        f if f < 101.0 => 5,
        _ => 6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_never_goes_above_and_is_the_nearest_below() {
        for tenth in 160..700 {
            let want = tenth as f64 / 10.0;
            let p = ice40_at_most(12.0, want).unwrap();
            assert!(p.out_mhz <= want, "{want}: {p:?}");
            // Nothing nearer below: the nearest overall is above or the same.
            let nearest = ice40(12.0, want).unwrap();
            assert!(nearest.out_mhz > want || nearest.out_mhz == p.out_mhz, "{want}");
        }
        assert_eq!(ice40_at_most(12.0, 15.0), None);
    }

    #[test]
    fn the_icebreaker_oscillator_to_48_mhz_is_exact() {
        // icepll -i 12 -o 48: DIVR 0, DIVF 63, DIVQ 4, FILTER_RANGE 1.
        let p = ice40(12.0, 48.0).unwrap();
        assert_eq!((p.divr, p.divf, p.divq, p.filter_range), (0, 63, 4, 1));
        assert_eq!(p.out_mhz, 48.0);
    }

    #[test]
    fn out_of_range_clocks_are_refused_by_name() {
        assert!(matches!(ice40(12.0, 12.0), Err(PllError::Output { .. })));
        assert!(matches!(ice40(12.0, 300.0), Err(PllError::Output { .. })));
        assert!(matches!(ice40(5.0, 48.0), Err(PllError::Input { .. })));
        assert!(ice40(12.0, 12.0).unwrap_err().to_string().contains("oscillator itself"));
        let e = ecp5(25.0, 500.0).unwrap_err().to_string();
        assert!(e.contains("ECP5 PLL gives 10 to 400 MHz, not 500 MHz"), "{e}");
        assert!(matches!(ecp5(4.0, 50.0), Err(PllError::Input { .. })));
    }

    #[test]
    fn ecp5_dividers_are_ecppll_s() {
        // ecppll -i 25 -o F (Project Trellis 1.4, YoWASP's build): the
        // dividers, CLKOP_CPHASE and the clock it reports.
        for (f, dividers, out) in [
            (60.0, (5, 12, 10, 4), 60.0),
            (48.0, (8, 15, 13, 6), 46.875),
            (100.0, (1, 4, 6, 2), 100.0),
            (61.3, (7, 17, 11, 5), 60.7143),
        ] {
            let p = ecp5(25.0, f).unwrap();
            assert_eq!((p.clki_div, p.clkfb_div, p.clkop_div, p.clkop_cphase), dividers, "{f}");
            assert!((p.out_mhz - out).abs() < 1e-3, "{f}: {p:?}");
        }
        // At most: never above, the nearest below.
        for tenth in 100..1500 {
            let want = tenth as f64 / 10.0;
            let p = ecp5_at_most(25.0, want).unwrap();
            assert!(p.out_mhz <= want + 1e-6, "{want}: {p:?}");
            let nearest = ecp5(25.0, want).unwrap();
            assert!(nearest.out_mhz > want || (nearest.out_mhz - p.out_mhz).abs() < 1e-6);
        }
    }

    #[test]
    fn every_output_in_range_is_reached_within_the_vco_steps() {
        // From 12 MHz the VCO moves in steps of 12 MHz, the output in steps
        // of at most 12 / 2 MHz: never further than half of that.
        let mut f = OUT_MHZ.0;
        while f <= OUT_MHZ.1 {
            let p = ice40(12.0, f).unwrap();
            assert!((p.out_mhz - f).abs() <= 3.0 + 1e-9, "{f}: {p:?}");
            let vco = 12.0 / (p.divr + 1) as f64 * (p.divf + 1) as f64;
            assert!(within(vco, VCO_MHZ), "{f}: {p:?}");
            f += 0.25;
        }
    }
}

//! The iCE40 PLL (`SB_PLL40_PAD`, `SB_PLL40_CORE`) in SIMPLE feedback: the
//! dividers that bring a board's oscillator nearest a requested clock,
//! found as `icepll` (fpga-icestorm) finds them, with the PLL's limits from
//! Lattice's iCE40 sysCLOCK PLL design guide.
//!
//! `F_PFD = F_IN / (DIVR + 1)`, `F_VCO = F_PFD * (DIVF + 1)`,
//! `F_OUT = F_VCO / 2^DIVQ`; FILTER_RANGE follows from `F_PFD`.

use serde::{Deserialize, Serialize};

/// The PLL's input clock range (MHz).
pub const IN_MHZ: (f64, f64) = (10.0, 133.0);
/// The phase detector's input range (MHz).
const PFD_MHZ: (f64, f64) = (10.0, 133.0);
/// The VCO's range (MHz).
const VCO_MHZ: (f64, f64) = (533.0, 1066.0);
/// The PLL's output clock range (MHz).
pub const OUT_MHZ: (f64, f64) = (16.0, 275.0);

/// The dividers of one PLL configuration and the clock they give.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pll {
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
    #[error("an iCE40 PLL takes an input clock of {lo} to {hi} MHz, not {mhz} MHz", lo = IN_MHZ.0, hi = IN_MHZ.1, mhz = .0)]
    Input(f64),
    #[error(
        "an iCE40 PLL gives {lo} to {hi} MHz, not {mhz} MHz; below that, clock the design from \
         the oscillator itself",
        lo = OUT_MHZ.0,
        hi = OUT_MHZ.1,
        mhz = .0
    )]
    Output(f64),
}

fn within(f: f64, (lo, hi): (f64, f64)) -> bool {
    (lo..=hi).contains(&f)
}

/// The configuration whose output is nearest `out_mhz` from an input of
/// `in_mhz` (the first found on ties, dividers in increasing order).
pub fn ice40(in_mhz: f64, out_mhz: f64) -> Result<Pll, PllError> {
    search(in_mhz, out_mhz, |_| true)
}

/// The configuration whose output is nearest `out_mhz` and not above it (a
/// clock a design is known to make); `None` when the PLL gives nothing
/// that slow.
pub fn ice40_at_most(in_mhz: f64, out_mhz: f64) -> Option<Pll> {
    let out = out_mhz.min(OUT_MHZ.1);
    search(in_mhz, out, |f| f <= out_mhz).ok().filter(|p| p.out_mhz <= out_mhz)
}

/// The configuration nearest `out_mhz` among the outputs `accept` takes.
fn search(in_mhz: f64, out_mhz: f64, accept: impl Fn(f64) -> bool) -> Result<Pll, PllError> {
    if !within(in_mhz, IN_MHZ) {
        return Err(PllError::Input(in_mhz));
    }
    if !within(out_mhz, OUT_MHZ) {
        return Err(PllError::Output(out_mhz));
    }
    let mut best: Option<Pll> = None;
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
                    best = Some(Pll { divr, divf, divq, filter_range, in_mhz, out_mhz: out });
                }
            }
        }
    }
    // A PFD of the input itself (DIVR 0) and a VCO of 533 MHz reach every
    // output of the range checked above (for `ice40`; an `accept` that
    // takes none is `ice40_at_most`'s, which filters).
    best.ok_or(PllError::Output(out_mhz))
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
        assert!(matches!(ice40(12.0, 12.0), Err(PllError::Output(_))));
        assert!(matches!(ice40(12.0, 300.0), Err(PllError::Output(_))));
        assert!(matches!(ice40(5.0, 48.0), Err(PllError::Input(_))));
        assert!(ice40(12.0, 12.0).unwrap_err().to_string().contains("oscillator itself"));
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

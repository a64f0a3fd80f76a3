//! The axes' scales: data to pixels, linear or logarithmic, and their ticks.

use super::number;

/// A scale from data to pixels along one axis.
pub struct Scale {
    pub lo: f64,
    pub hi: f64,
    pub log: bool,
    pub from: f64,
    pub to: f64,
}

impl Scale {
    /// A scale covering `values` (padded a little), mapped onto `[from, to]`.
    pub fn new(values: impl Iterator<Item = f64>, log: bool, from: f64, to: f64) -> Scale {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            (lo, hi) = if log { (1.0, 10.0) } else { (0.0, 1.0) };
        }
        if log {
            let (l, h) = (lo.log10(), hi.log10());
            let pad = ((h - l) * 0.05).max(0.05);
            (lo, hi) = (10f64.powf(l - pad), 10f64.powf(h + pad));
        } else {
            let pad = ((hi - lo) * 0.05).max(hi.abs().max(1e-9) * 0.01);
            (lo, hi) = (lo - pad, hi + pad);
        }
        Scale { lo, hi, log, from, to }
    }

    pub fn at(&self, v: f64) -> f64 {
        let t = if self.log {
            (v.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10())
        } else {
            (v - self.lo) / (self.hi - self.lo)
        };
        self.from + t * (self.to - self.from)
    }

    /// The linear ticks' step: 1, 2 or 5 times a power of ten, about five
    /// steps over the axis.
    pub fn step(&self) -> f64 {
        let raw = (self.hi - self.lo) / 5.0;
        let mag = 10f64.powf(raw.log10().floor());
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * mag).find(|s| *s >= raw).unwrap_or(mag)
    }

    /// A tick's text, with as many decimals as the step needs (so that
    /// neighbours never read the same).
    pub fn tick_text(&self, v: f64) -> String {
        if self.log {
            return number(v);
        }
        let decimals = (-self.step().log10().floor()).max(0.0) as usize;
        if decimals == 0 {
            number(v.round())
        } else {
            format!("{v:.decimals$}")
        }
    }

    /// Tick values: 1-2-5 steps, about five of them.
    pub fn ticks(&self) -> Vec<f64> {
        if self.log {
            let mut out = Vec::new();
            let (l, h) = (self.lo.log10().floor() as i32, self.hi.log10().ceil() as i32);
            let decades = h - l;
            let mults: &[f64] = if decades <= 1 {
                &[1.0, 2.0, 5.0]
            } else if decades <= 3 {
                &[1.0, 3.0]
            } else {
                &[1.0]
            };
            for e in l..=h {
                for m in mults {
                    let v = m * 10f64.powi(e);
                    if v >= self.lo && v <= self.hi {
                        out.push(v);
                    }
                }
            }
            return out;
        }
        let step = self.step();
        let first = (self.lo / step).ceil() as i64;
        let last = (self.hi / step).floor() as i64;
        (first..=last).map(|k| k as f64 * step).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_fall_inside_the_axis_in_nice_steps() {
        let s = Scale::new([0.0, 97.0].into_iter(), false, 0.0, 100.0);
        let t = s.ticks();
        assert!(t.len() >= 3 && t.len() <= 11, "{t:?}");
        assert!(t.iter().all(|&v| v >= s.lo && v <= s.hi));
        // Neighbouring ticks never read the same.
        let narrow = Scale::new([95.2, 96.9].into_iter(), false, 0.0, 100.0);
        let texts: Vec<String> = narrow.ticks().iter().map(|&v| narrow.tick_text(v)).collect();
        assert!(texts.windows(2).all(|w| w[0] != w[1]), "{texts:?}");
        let log = Scale::new([1_000.0, 2_000_000.0].into_iter(), true, 0.0, 100.0);
        let t = log.ticks();
        assert!(t.contains(&10_000.0) && t.contains(&1_000_000.0), "{t:?}");
    }
}

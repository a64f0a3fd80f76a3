//! The testbenches' traffic, mirrored: the driver of `sim/sk_traffic.v`.

use serde::Serialize;

/// How a testbench drives a stream: a seed, the chances in 16 per cycle
/// that its valid (input side) and ready (output side) are high, and the
/// cycles after reset during which no beat is offered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Traffic {
    pub seed: u32,
    pub valid: u32,
    pub ready: u32,
    /// Silent cycles after reset before the first beat is offered.
    pub warmup: u64,
}

impl Traffic {
    /// No gaps and no back-pressure, from the first cycle after reset.
    pub const FULL: Traffic = Traffic { seed: 1, valid: 16, ready: 16, warmup: 0 };

    /// Seeded traffic with these chances in 16, from the first cycle after
    /// reset.
    pub fn new(seed: u32, valid: u32, ready: u32) -> Traffic {
        Traffic { seed, valid, ready, warmup: 0 }
    }
}

/// The testbenches' traffic (`templates/tb.v`, `sim/stream_tb.v`):
/// `s_valid` and `m_ready` are registers drawn each cycle from a seeded
/// xorshift32, with `valid` and `ready` chances in 16; no beat is offered
/// before cycle `warmup`. A beat offered stays offered until taken.
#[derive(Clone, Copy, Debug)]
pub struct Driver {
    rng: u32,
    valid: u32,
    ready: u32,
    pub(super) warmup: u64,
    /// For sizing FIFOs: (period, beats per image): image k is not offered
    /// before cycle `warmup + k * period`.
    pub(super) pace: Option<(u64, usize)>,
    pub(super) s_valid: bool,
    pub(super) m_ready: bool,
}

impl Driver {
    pub fn new(traffic: Traffic) -> Driver {
        let Traffic { seed, valid, ready, warmup } = traffic;
        let rng = if seed == 0 { 0x1234_5678 } else { seed };
        Driver { rng, valid, ready, warmup, pace: None, s_valid: false, m_ready: false }
    }

    /// The registers after the clock edge of `cycle`; `sent` beats were taken
    /// including this cycle's, of `total`.
    pub(super) fn clock(&mut self, cycle: u64, in_fire: bool, sent: usize, total: usize) {
        let r = self.rng;
        let paced = self.pace.is_none_or(|(period, per)| {
            let image = (sent / per.max(1)) as u64;
            cycle + 1 >= self.warmup + image * period
        });
        if !self.s_valid || in_fire {
            self.s_valid = cycle >= self.warmup && paced && sent < total && (r & 15) < self.valid;
        }
        self.m_ready = ((r >> 4) & 15) < self.ready;
        let mut y = r ^ (r << 13);
        y ^= y >> 17;
        self.rng = y ^ (y << 5);
    }
}

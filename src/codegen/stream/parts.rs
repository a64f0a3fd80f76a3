//! The parts a streaming layer is made of, as the plan sizes them: streams,
//! width converters, window generators and matrix-vector units.

use std::rc::Rc;

use super::mvu::Folded;
use crate::codegen::graph::LayerGraph;
use crate::codegen::manifest::Order;
use crate::codegen::timing::{simulate, Part};
use crate::quant::FixedFormat;

/// A stream between parts: `lanes` codes per beat.
#[derive(Clone, Copy, Debug)]
pub struct Stream {
    pub lanes: usize,
    pub format: FixedFormat,
    /// Values per image.
    pub len: usize,
    pub order: Order,
    /// (C, H, W) while the stream is an image; `None` once it is flat.
    pub image: Option<(usize, usize, usize)>,
}

impl Stream {
    pub fn beats(&self) -> usize {
        self.len / self.lanes
    }
}

/// The matrix-vector unit of a weighted layer.
#[derive(Clone, Debug)]
pub enum Mvu {
    Folded(Box<Folded>),
    /// PE = M, SIMD = N: the unrolled adder graph of the constant matrix
    /// (solved once per layer, shared by every plan that unrolls it).
    Unrolled(Rc<LayerGraph>),
}

/// A width converter: beats of `a` codes to beats of `b`, words of `l`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dwc {
    pub bits: u32,
    pub a: usize,
    pub b: usize,
    pub l: usize,
    /// A beat split where it waits (`HOLD` of `sk_dwc`): no word register,
    /// a word in `l / b + 1` cycles.
    pub hold: bool,
}

impl Dwc {
    /// `None` when the widths already agree.
    pub fn between(bits: u32, a: usize, b: usize) -> Option<Dwc> {
        (a != b).then(|| Dwc { bits, a, b, l: lcm(a, b), hold: false })
    }

    /// The converter, holding its beat instead of a word register where it
    /// may: a beat split into narrower ones whose `beats` an image, at a
    /// word in `l / b + 1` cycles, take no more than `cycles`.
    pub fn held_within(self, beats: usize, cycles: u64) -> Dwc {
        let split = self.l == self.a && self.b < self.a;
        let hold = split && (beats as u64) * (self.l / self.b + 1) as u64 <= cycles;
        Dwc { hold, ..self }
    }

    pub(super) fn part(&self) -> Part {
        Part::Dwc { a: self.a, b: self.b, l: self.l, hold: self.hold }
    }
}

pub(super) fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

pub(super) fn lcm(a: usize, b: usize) -> usize {
    a / gcd(a, b) * b
}

/// `sk_window`'s parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub bits: u32,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub k: [usize; 2],
    pub stride: [usize; 2],
    pub pad: [usize; 2],
    pub chunk: usize,
    pub repeat: usize,
    /// One window register (`sk_window`'s COMPACT): half the registers, a
    /// cycle a window more when a window takes more than one beat.
    pub compact: bool,
}

impl Window {
    pub fn size(&self) -> usize {
        self.k[0] * self.k[1] * self.c
    }

    /// (width, depth) of `sk_window`'s line-buffer RAM: K-1 rows of pixels
    /// in a word per column of the padded row; `None` when it keeps none
    /// (one row or one column).
    pub fn line_buffer(&self) -> Option<(u64, u64)> {
        let width = ((self.k[0] - 1) * self.c) as u64 * self.bits as u64;
        let depth = (self.w + 2 * self.pad[1]) as u64;
        (width > 0 && depth > 1).then_some((width, depth))
    }
    /// Steps per image: one per pixel of the padded image.
    pub fn steps(&self) -> u64 {
        ((self.h + 2 * self.pad[0]) * (self.w + 2 * self.pad[1])) as u64
    }
    pub(super) fn part(&self) -> Part {
        Part::Window {
            h: self.h,
            w: self.w,
            kh: self.k[0],
            kw: self.k[1],
            sh: self.stride[0],
            sw: self.stride[1],
            ph: self.pad[0],
            pw: self.pad[1],
            beats: self.size() / self.chunk,
            repeat: self.repeat,
            compact: self.compact,
        }
    }

    /// `sk_maxpool_serial` over this geometry, `p` codes a beat.
    pub(super) fn serial_part(&self, p: usize) -> Part {
        Part::PoolSerial {
            g: self.c / p,
            h: self.h,
            w: self.w,
            kh: self.k[0],
            kw: self.k[1],
            sh: self.stride[0],
            sw: self.stride[1],
        }
    }

    /// (width, depth) of `sk_maxpool_serial`'s row buffer at `p` codes a
    /// beat: a word per chunk of every output column; `None` when it keeps
    /// no rows (KH = 1) or one word (a register).
    pub fn serial_row_buffer(&self, p: usize) -> Option<(u64, u64)> {
        let ow = windows_along(self.w, self.k[1], self.stride[1]);
        let depth = (ow * self.c / p) as u64;
        (self.k[0] > 1 && depth > 1).then_some(((p * self.bits as usize) as u64, depth))
    }
}

/// Cycles per image of a convolution whose window generator sends `beats`
/// beats per window, fed and drained as fast as it goes: the timing model of
/// the window and a unit that takes a beat per cycle. More than
/// `positions * beats` where the generator walks rows of no window (the first
/// KH-1, and the stride's) with no window left to send meanwhile.
pub(super) fn window_cycles(geometry: &Window, beats: usize) -> u64 {
    let part = match geometry.part() {
        Part::Window { h, w, kh, kw, sh, sw, ph, pw, compact, .. } => {
            Part::Window { h, w, kh, kw, sh, sw, ph, pw, beats, repeat: 1, compact }
        }
        _ => unreachable!("a window's part is a window"),
    };
    let outputs = window_count(geometry);
    let parts = [part, Part::Pipe { depth: 1, chunks: beats }];
    let limit = 4 * (geometry.steps() + (outputs * beats) as u64) + 1000;
    let pixels = geometry.h * geometry.w;
    simulate(&parts, pixels, outputs, 3, geometry.steps(), limit)
        .map(|t| t.interval())
        .unwrap_or(u64::MAX)
}

/// Windows per image.
pub(super) fn window_count(w: &Window) -> usize {
    windows_along(w.h + 2 * w.pad[0], w.k[0], w.stride[0])
        * windows_along(w.w + 2 * w.pad[1], w.k[1], w.stride[1])
}

/// Windows of `k` at stride `s` along a side of `size` (floor mode).
fn windows_along(size: usize, k: usize, s: usize) -> usize {
    (size - k) / s + 1
}

//! The run against its references: every output value and argmax against
//! the simulator's, every image's first beat in and last beat out against
//! the timing model's timeline. One comparison for both forms.

use std::fmt;

use ndarray::Array2;
use serde::Serialize;

use super::contract::{from_beats, Contract};
use super::run::Log;
use crate::codegen::timing::Timeline;
use crate::codegen::Manifest;

/// The first disagreement between a design and its references: the
/// simulator's outputs and the timing model's timeline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Mismatch {
    Count {
        expected: usize,
        got: usize,
    },
    Value {
        image: usize,
        index: usize,
        expected: i64,
        got: i64,
    },
    Argmax {
        image: usize,
        expected: usize,
        got: u32,
    },
    /// `m_axis_tlast` not high on exactly the last beat of an image.
    Last {
        image: usize,
        beat: usize,
        got: bool,
    },
    /// An image's first output beat left before its first input beat entered.
    Early {
        image: usize,
        output: u64,
        input: u64,
    },
    /// An image entered or left at another cycle than the timing model says
    /// (cycles counted from the first image's first beat).
    Timing {
        image: usize,
        what: &'static str,
        expected: u64,
        got: u64,
    },
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mismatch::Count { expected, got } => {
                write!(f, "{got} output beats for {expected} expected")
            }
            Mismatch::Value { image, index, expected, got } => {
                write!(f, "image {image}, output {index}: expected {expected}, got {got}")
            }
            Mismatch::Argmax { image, expected, got } => {
                write!(f, "image {image}: argmax expected {expected}, got {got}")
            }
            Mismatch::Last { image, beat, got } => write!(
                f,
                "image {image}, output beat {beat}: tlast {}, expected {}",
                u8::from(*got),
                u8::from(!got)
            ),
            Mismatch::Early { image, output, input } => write!(
                f,
                "image {image}: its first output beat left at cycle {output}, before its first \
                 input beat entered at cycle {input}"
            ),
            Mismatch::Timing { image, what, expected, got } => write!(
                f,
                "image {image} {what} at cycle {got}, the timing model says {expected} (cycles \
                 from the first input beat)"
            ),
        }
    }
}

impl Mismatch {
    /// The image a wrong value is in.
    pub fn image(&self) -> Option<usize> {
        match self {
            Mismatch::Value { image, .. } | Mismatch::Argmax { image, .. } => Some(*image),
            _ => None,
        }
    }
}

/// Compares the log with the simulator's outputs (network order, one image
/// per row): every value, the argmax, tlast on each image's last beat, the
/// beats and images in and out, no image out before it came in, and with a
/// `model` the cycle every image entered and left.
pub fn compare(
    m: &Manifest,
    expected: &Array2<i64>,
    log: &Log,
    model: Option<&Timeline>,
) -> Result<(), Mismatch> {
    let s = Contract::of(m);
    let want = expected.nrows() * s.output.beats;
    if log.beats.len() != want || log.starts.len() != expected.nrows() {
        return Err(Mismatch::Count { expected: want, got: log.beats.len() });
    }
    for (image, (row, beats)) in
        expected.rows().into_iter().zip(log.beats.chunks(s.output.beats)).enumerate()
    {
        if beats[0].cycle <= log.starts[image] {
            let (output, input) = (beats[0].cycle, log.starts[image]);
            return Err(Mismatch::Early { image, output, input });
        }
        let lanes: Vec<Vec<i64>> = beats.iter().map(|b| b.lanes.clone()).collect();
        let got = from_beats(&lanes, s.output.order);
        for (index, (&e, &g)) in row.iter().zip(&got).enumerate() {
            if e != g {
                return Err(Mismatch::Value { image, index, expected: e, got: g });
            }
        }
        if m.argmax_bits > 0 {
            let want = crate::sim::argmax(row.iter().copied());
            let got = beats[beats.len() - 1].user;
            if want as u32 != got {
                return Err(Mismatch::Argmax { image, expected: want, got });
            }
        }
        if let Some(beat) = (0..beats.len()).find(|&b| beats[b].last != (b + 1 == beats.len())) {
            return Err(Mismatch::Last { image, beat, got: beats[beat].last });
        }
    }
    if let Some(model) = model {
        let t = log.timeline(s.output.beats);
        let (t0, m0) = (t.starts[0], model.starts[0]);
        let pairs = [("entered", &t.starts, &model.starts), ("left", &t.ends, &model.ends)];
        for image in 0..t.starts.len() {
            for (what, got, want) in pairs {
                let (g, w) = (got[image] - t0, want[image] - m0);
                if g != w {
                    return Err(Mismatch::Timing { image, what, expected: w, got: g });
                }
            }
        }
    }
    Ok(())
}

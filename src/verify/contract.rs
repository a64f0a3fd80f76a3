//! The stream contract as verification reads it, one for both forms: the two
//! streams (lanes, beats and order of an image), the timing model's chain,
//! and the layers whose outputs a testbench can trace. An unrolled design is
//! a stream of one beat per image through one pipeline that stalls as a
//! whole; a streaming design says its own in the manifest.

use crate::codegen::manifest::{Order, StreamPort};
use crate::codegen::timing::{simulate_parts, Beats, Driver, Part, Stuck, Timeline, Traffic};
use crate::codegen::Manifest;

/// A layer whose output a testbench can trace: each beat, when `fire` (a
/// Verilog expression inside the testbench) holds, is `data`; `beats` beats
/// an image, of equal lanes.
#[derive(Clone, Debug)]
pub struct Traced {
    pub name: String,
    pub beats: usize,
    pub order: Order,
    /// Where the layer's output is in the timing model's chain (streaming).
    pub point: Option<usize>,
    pub fire: String,
    pub data: String,
}

/// What the testbench and the checks need of a design.
#[derive(Clone, Debug)]
pub struct Contract {
    pub input: StreamPort,
    pub output: StreamPort,
    pub cycles_per_image: u64,
    pub latency: u64,
    /// The chain the timing model runs.
    pub parts: Vec<Part>,
    pub layers: Vec<Traced>,
}

impl Contract {
    /// The contract of the design `m` describes.
    pub fn of(m: &Manifest) -> Contract {
        match &m.stream {
            Some(s) => Contract {
                input: s.input,
                output: s.output,
                cycles_per_image: s.cycles_per_image,
                latency: s.latency,
                parts: s.parts.clone(),
                layers: s
                    .layers
                    .iter()
                    .filter_map(|l| {
                        let t = l.trace.as_ref()?;
                        Some(Traced {
                            name: l.name.clone(),
                            beats: l.out_beats,
                            order: l.order,
                            point: Some(l.point),
                            fire: format!("dut.{t}_valid && dut.{t}_ready"),
                            data: format!("dut.{t}_data"),
                        })
                    })
                    .collect(),
            },
            None => {
                // The unrolled top: an input register, the layers, one valid
                // bit per register stage (`valid_q`), all advancing on `ce`.
                let mut stage = 1;
                let layers = m
                    .layers
                    .iter()
                    .map(|l| {
                        stage += l.latency;
                        Traced {
                            name: l.name.clone(),
                            beats: 1,
                            order: Order::Index,
                            point: None,
                            fire: format!("dut.valid_q[{}] && dut.ce", stage - 1),
                            data: format!("dut.{}.y", l.instance),
                        }
                    })
                    .collect();
                let port = |lanes| StreamPort { lanes, beats: 1, order: Order::Index };
                Contract {
                    input: port(m.inputs),
                    output: port(m.outputs),
                    cycles_per_image: 1,
                    latency: m.latency as u64,
                    parts: vec![Part::Pipe { depth: m.latency as usize, chunks: 1 }],
                    layers,
                }
            }
        }
    }

    /// The timing model's handshakes at every point of the chain (see
    /// `simulate_parts`) for `images` images under the testbench's traffic.
    pub fn handshakes(&self, images: usize, traffic: Traffic) -> Result<Vec<Vec<u64>>, Stuck> {
        let (i, o) = (self.input.beats, self.output.beats);
        let driver = Driver::new(traffic);
        // Random traffic slows both ends down by up to 16 times.
        let per = self.cycles_per_image.max(1) + self.input.beats as u64 + 64;
        let limit = 16 * ((images as u64 + 2) * per * 2 + self.latency * 4 + 1000) + traffic.warmup;
        simulate_parts(&self.parts, i * images, o * images, driver, limit)
            .ok_or(Stuck { images, limit })
    }

    /// The timing model's timeline of `images` images under the testbench's
    /// traffic.
    pub fn timeline(&self, images: usize, traffic: Traffic) -> Result<Timeline, Stuck> {
        let fires = self.handshakes(images, traffic)?;
        let (i, o) = (self.input.beats, self.output.beats);
        Ok(Beats { inputs: fires[0].clone(), outputs: fires[self.parts.len()].clone() }
            .timeline(i, o))
    }
}

/// An image's values (network order) as the stream's beats.
pub fn to_beats(values: &[i64], lanes: usize, order: Order) -> Vec<Vec<i64>> {
    (0..values.len() / lanes)
        .map(|b| (0..lanes).map(|k| values[order.index(b * lanes + k)]).collect())
        .collect()
}

/// A stream's beats (in order) back to values in network order.
pub fn from_beats(beats: &[Vec<i64>], order: Order) -> Vec<i64> {
    let flat: Vec<i64> = beats.iter().flatten().copied().collect();
    let mut values = vec![0; flat.len()];
    for (p, &v) in flat.iter().enumerate() {
        values[order.index(p)] = v;
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beats_round_trip_in_both_orders() {
        let values: Vec<i64> = (0..24).collect();
        for order in [Order::Index, Order::Hwc { c: 3, h: 2, w: 4 }] {
            for lanes in [1, 3] {
                let beats = to_beats(&values, lanes, order);
                assert_eq!(beats.len(), 24 / lanes);
                assert_eq!(from_beats(&beats, order), values);
            }
        }
        // (H, W, C): the first beat of a 3-channel image is pixel (0, 0).
        let beats = to_beats(&values, 3, Order::Hwc { c: 3, h: 2, w: 4 });
        assert_eq!(beats[0], [0, 8, 16]);
    }
}

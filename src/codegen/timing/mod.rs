//! The timing model of a streaming design: the control of every part of the
//! chain (`hdl/sk_*.v`), cycle by cycle, without data.
//!
//! Every part's `m_valid` is a register and its `s_ready` depends only on its
//! own registers and its `m_ready`, so one cycle is: readiness from the sink
//! back to the source, then every part clocks with the handshakes of that
//! cycle. The model gives the manifest's cycles per image and latency, and
//! `verify` holds the RTL's measured timeline against it beat for beat.

use serde::{Deserialize, Serialize};

mod driver;

pub use driver::{Driver, Traffic};

/// One part of the chain, as far as timing goes. The field names are the
/// parameters of the hand-written module it stands for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "part", rename_all = "snake_case")]
pub enum Part {
    /// `sk_skid`: a two-entry register slice.
    Skid,
    /// `sk_fifo`: `depth` beats in RAM and a two-entry output queue.
    Fifo { depth: usize },
    /// `sk_dwc`: beats of `a` codes to beats of `b` through words of `l`;
    /// `hold`: a beat split where it waits, with no word register (a word in
    /// `l / b + 1` cycles).
    Dwc {
        a: usize,
        b: usize,
        l: usize,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hold: bool,
    },
    /// `sk_window` (also inside `sk_maxpool`): `beats` output beats per window,
    /// each window sent `repeat` times; `compact`: one window register, which
    /// no step moves while it is being sent (but in its last beat when
    /// `beats` is 1).
    Window {
        h: usize,
        w: usize,
        kh: usize,
        kw: usize,
        sh: usize,
        sw: usize,
        ph: usize,
        pw: usize,
        beats: usize,
        repeat: usize,
        compact: bool,
    },
    /// `sk_maxpool_serial`: images of `g` beats a pixel (channel chunks);
    /// a beat goes out for every beat that completes a window (windows that
    /// do not overlap: `kh <= sh`, `kw <= sw`).
    PoolSerial { g: usize, h: usize, w: usize, kh: usize, kw: usize, sh: usize, sw: usize },
    /// `sk_vecbuf`: vectors of `words` beats, each sent `repeat` times.
    Vecbuf { words: usize, repeat: usize },
    /// A pipeline with a local stall (`en = !out_valid || m_ready`): the
    /// matrix-vector unit (`depth` registers from an accepted beat to the
    /// output, one output per `chunks` beats) or an unrolled layer (`chunks`
    /// 1).
    Pipe { depth: usize, chunks: usize },
}

/// The state of one part.
#[derive(Clone, Debug)]
enum State {
    Skid {
        valid: bool,
        skid: bool,
    },
    Fifo(Fifo),
    Gather {
        count: usize,
        full: usize,
    },
    Split {
        gathered: usize,
        per_word: usize,
        left: usize,
        beats: usize,
    },
    /// `sk_dwc` with HOLD: sending part `beat` of the waiting beat.
    Hold {
        busy: bool,
        beat: usize,
        beats: usize,
    },
    Window(Window),
    PoolSerial(PoolSerial),
    Vecbuf(Vecbuf),
    /// `ring[(head + k) % depth]` is stage k's valid bit; `ring[tail]` the
    /// last stage's.
    Pipe {
        ring: Vec<bool>,
        head: usize,
        tail: usize,
        chunk: usize,
        chunks: usize,
    },
}

#[derive(Clone, Debug)]
struct Window {
    p: [usize; 8], // h, w, kh, kw, sh, sw, ph, pw
    emit: usize,
    /// One window register: no step while it is sent but in the last beat
    /// of a whole-window beat.
    compact: bool,
    beats: usize,
    py: usize,
    px: usize,
    ry: usize,
    rx: usize,
    left: usize,
    /// The image's first pixel has been offered: its padding may be walked.
    started: bool,
}

/// `sk_readq`: the read side of a synchronous RAM, a read in flight and a
/// two-entry queue.
#[derive(Clone, Copy, Debug, Default)]
struct ReadQueue {
    inflight: bool,
    count: usize,
}

impl ReadQueue {
    fn out_valid(self) -> bool {
        self.count > 0
    }
    /// Words in the queue after this cycle, before this cycle's read lands.
    fn after(self, out_ready: bool) -> usize {
        self.count + self.inflight as usize - (self.out_valid() && out_ready) as usize
    }
    fn issue(self, avail: bool, out_ready: bool) -> bool {
        avail && self.after(out_ready) <= 1
    }
    /// One clock edge; returns whether a read issued.
    fn clock(&mut self, avail: bool, out_ready: bool) -> bool {
        let issue = self.issue(avail, out_ready);
        self.count = self.after(out_ready);
        self.inflight = issue;
        issue
    }
}

#[derive(Clone, Debug)]
struct Fifo {
    depth: usize,
    count: usize,
    out: ReadQueue,
    /// The most beats held at once (RAM, read in flight and queue).
    peak: usize,
}

#[derive(Clone, Debug)]
struct PoolSerial {
    p: [usize; 7], // g, h, w, kh, kw, sh, sw
    /// The next beat's place in its image.
    beat: usize,
    valid: bool,
}

impl PoolSerial {
    /// Whether the next beat completes a window (floor mode: rows and
    /// columns past the last window complete none).
    fn emits(&self) -> bool {
        let [g, h, w, kh, kw, sh, sw] = self.p;
        let (y, x) = (self.beat / g / w, self.beat / g % w);
        let (oh, ow) = ((h - kh) / sh + 1, (w - kw) / sw + 1);
        y < oh * sh && y % sh == kh - 1 && x < ow * sw && x % sw == kw - 1
    }
}

#[derive(Clone, Debug)]
struct Vecbuf {
    words: usize,
    repeat: usize,
    full: [bool; 2],
    wbank: usize,
    widx: usize,
    rbank: usize,
    ridx: usize,
    rrep: usize,
    out: ReadQueue,
}

impl Window {
    fn hp(&self) -> usize {
        self.p[0] + 2 * self.p[6]
    }
    fn wp(&self) -> usize {
        self.p[1] + 2 * self.p[7]
    }
    fn in_image(&self) -> bool {
        let [h, w, .., ph, pw] = self.p;
        (ph..ph + h).contains(&self.py) && (pw..pw + w).contains(&self.px)
    }
    fn emits(&self) -> bool {
        let [_, _, kh, kw, ..] = self.p;
        self.py + 1 >= kh && self.ry == 0 && self.px + 1 >= kw && self.rx == 0
    }
    fn out_free(&self, out_ready: bool) -> bool {
        self.left == 0 || (self.left == 1 && out_ready)
    }
    fn can_step(&self, out_ready: bool) -> bool {
        match (self.compact, self.beats) {
            (false, _) => !self.emits() || self.out_free(out_ready),
            (true, 1) => self.out_free(out_ready),
            (true, _) => self.left == 0,
        }
    }
}

impl State {
    fn new(part: &Part) -> State {
        match *part {
            Part::Skid => State::Skid { valid: false, skid: false },
            Part::Fifo { depth } => {
                State::Fifo(Fifo { depth, count: 0, out: ReadQueue::default(), peak: 0 })
            }
            Part::Dwc { a, b, l, .. } if l == b => State::Gather { count: 0, full: l / a },
            Part::Dwc { b, l, hold: true, .. } => {
                State::Hold { busy: false, beat: 0, beats: l / b }
            }
            Part::Dwc { a, b, l, hold: false } => {
                State::Split { gathered: 0, per_word: l / a, left: 0, beats: l / b }
            }
            Part::Window { h, w, kh, kw, sh, sw, ph, pw, beats, repeat, compact } => {
                State::Window(Window {
                    p: [h, w, kh, kw, sh, sw, ph, pw],
                    emit: beats * repeat,
                    compact,
                    beats,
                    py: 0,
                    px: 0,
                    ry: 0,
                    rx: 0,
                    left: 0,
                    started: false,
                })
            }
            Part::PoolSerial { g, h, w, kh, kw, sh, sw } => State::PoolSerial(PoolSerial {
                p: [g, h, w, kh, kw, sh, sw],
                beat: 0,
                valid: false,
            }),
            Part::Vecbuf { words, repeat } => State::Vecbuf(Vecbuf {
                words,
                repeat,
                full: [false; 2],
                wbank: 0,
                widx: 0,
                rbank: 0,
                ridx: 0,
                rrep: 0,
                out: ReadQueue::default(),
            }),
            Part::Pipe { depth, chunks } => {
                let ring = vec![false; depth.max(1)];
                let tail = ring.len() - 1;
                State::Pipe { ring, head: 0, tail, chunk: 0, chunks: chunks.max(1) }
            }
        }
    }

    /// The part's `s_ready` for its `m_ready`, and its `m_valid`, this
    /// cycle (one match: the cycle loop's hot path).
    fn signals(&self, out_ready: bool) -> (bool, bool) {
        match self {
            State::Skid { skid, valid } => (!skid, *valid),
            State::Fifo(f) => (f.count < f.depth, f.out.out_valid()),
            State::Gather { count, full } => (count < full || out_ready, count == full),
            State::Split { gathered, per_word, left, .. } => {
                let send_free = *left == 0 || (*left == 1 && out_ready);
                (*gathered + 1 < *per_word || send_free, *left > 0)
            }
            State::Hold { busy, beat, beats } => (*busy && *beat + 1 == *beats && out_ready, *busy),
            State::Window(w) => (w.in_image() && w.can_step(out_ready), w.left > 0),
            State::PoolSerial(p) => (!p.emits() || !p.valid || out_ready, p.valid),
            State::Vecbuf(v) => (!v.full[v.wbank], v.out.out_valid()),
            State::Pipe { ring, tail, .. } => (!ring[*tail] || out_ready, ring[*tail]),
        }
    }

    /// One clock edge, given the cycle's `s_valid` and `m_ready` and what
    /// the part said this cycle: its `s_ready` and `m_valid`.
    fn clock(&mut self, in_valid: bool, out_ready: bool, in_ready: bool, out_valid: bool) {
        let in_fire = in_valid && in_ready;
        let out_fire = out_valid && out_ready;
        match self {
            State::Skid { valid, skid } => {
                if !*valid || out_ready {
                    *valid = *skid || in_valid;
                    *skid = false;
                } else if in_valid && !*skid {
                    *skid = true;
                }
            }
            State::Fifo(f) => {
                let issue = f.out.clock(f.count > 0, out_ready);
                f.count = f.count + in_fire as usize - issue as usize;
                f.peak = f.peak.max(f.count + f.out.inflight as usize + f.out.count);
            }
            State::Gather { count, full } => {
                let take = out_ready && count == full;
                if in_fire {
                    *count = if take { 1 } else { *count + 1 };
                } else if take {
                    *count = 0;
                }
            }
            State::Split { gathered, per_word, left, beats } => {
                let send_free = *left == 0 || (*left == 1 && out_ready);
                let word = in_fire && *gathered + 1 == *per_word;
                if in_fire {
                    *gathered = if word { 0 } else { *gathered + 1 };
                }
                if word && send_free {
                    *left = *beats;
                } else if out_fire {
                    *left -= 1;
                }
            }
            State::Hold { busy, beat, beats } => {
                if !*busy {
                    *busy = in_valid;
                } else if out_ready {
                    let last = *beat + 1 == *beats;
                    *busy = !last;
                    *beat = if last { 0 } else { *beat + 1 };
                }
            }
            State::Window(w) => {
                let go = if w.in_image() { in_valid } else { w.started || in_valid };
                let step = w.can_step(out_ready) && go;
                let emits = w.emits();
                let image_end = w.px + 1 == w.wp() && w.py + 1 == w.hp();
                if step && image_end {
                    w.started = false;
                } else if in_valid {
                    w.started = true;
                }
                if step {
                    let [_, _, kh, kw, sh, sw, ..] = w.p;
                    let row_last = w.px + 1 == w.wp();
                    if row_last {
                        if w.py + 1 == w.hp() {
                            w.py = 0;
                            w.ry = 0;
                        } else {
                            if w.py + 1 >= kh {
                                w.ry = (w.ry + 1) % sh;
                            }
                            w.py += 1;
                        }
                        w.px = 0;
                        w.rx = 0;
                    } else {
                        if w.px + 1 >= kw {
                            w.rx = (w.rx + 1) % sw;
                        }
                        w.px += 1;
                    }
                }
                if step && emits {
                    w.left = w.emit;
                } else if out_fire {
                    w.left -= 1;
                }
            }
            State::PoolSerial(p) => {
                if in_fire && p.emits() {
                    p.valid = true;
                } else if out_ready {
                    p.valid = false;
                }
                if in_fire {
                    let [g, h, w, ..] = p.p;
                    p.beat = (p.beat + 1) % (g * h * w);
                }
            }
            State::Vecbuf(v) => {
                let (wbank, rbank) = (v.wbank, v.rbank);
                let wlast = v.widx + 1 == v.words;
                let rlast = v.ridx + 1 == v.words && v.rrep + 1 == v.repeat;
                if in_fire {
                    v.widx = if wlast { 0 } else { v.widx + 1 };
                    if wlast {
                        v.wbank ^= 1;
                    }
                }
                let issue = v.out.clock(v.full[rbank], out_ready);
                if issue {
                    let word_last = v.ridx + 1 == v.words;
                    v.ridx = if word_last { 0 } else { v.ridx + 1 };
                    if word_last {
                        v.rrep = if rlast { 0 } else { v.rrep + 1 };
                    }
                    if rlast {
                        v.rbank ^= 1;
                    }
                }
                if in_fire && wlast {
                    v.full[wbank] = true;
                }
                if issue && rlast {
                    v.full[rbank] = false;
                }
            }
            State::Pipe { ring, head, tail, chunk, chunks } => {
                let en = !out_valid || out_ready;
                if en {
                    let produces = in_valid && *chunk + 1 == *chunks;
                    // Every stage moves one on: the last one's slot becomes stage 0.
                    let back = |i: usize| if i == 0 { ring.len() - 1 } else { i - 1 };
                    (*head, *tail) = (back(*head), back(*tail));
                    ring[*head] = produces;
                    if in_valid {
                        *chunk = (*chunk + 1) % *chunks;
                    }
                }
            }
        }
    }
}

/// When each image entered and left: the cycle of its first input beat's
/// handshake and of its last output beat's.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub starts: Vec<u64>,
    pub ends: Vec<u64>,
}

impl Timeline {
    /// Cycles from the first image's first beat in to its last beat out.
    pub fn latency(&self) -> u64 {
        self.ends[0] - self.starts[0]
    }

    /// Cycles between the last two images' ends (the steady-state initiation
    /// interval when the run is long enough).
    pub fn interval(&self) -> u64 {
        match self.ends.len() {
            0 | 1 => self.latency(),
            n => self.ends[n - 1] - self.ends[n - 2],
        }
    }
}

/// The chain ran `limit` cycles without finishing: a deadlock (a bug).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{images} images did not pass the timing model's chain in {limit} cycles")]
pub struct Stuck {
    pub images: usize,
    pub limit: u64,
}

/// Every handshake at the chain's two ends: the cycles of input and output
/// beats.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Beats {
    pub inputs: Vec<u64>,
    pub outputs: Vec<u64>,
}

impl Beats {
    /// Images of `in_beats` input and `out_beats` output beats.
    pub fn timeline(&self, in_beats: usize, out_beats: usize) -> Timeline {
        Timeline {
            starts: self.inputs.iter().step_by(in_beats.max(1)).copied().collect(),
            ends: self.outputs.chunks(out_beats.max(1)).map(|c| c[c.len() - 1]).collect(),
        }
    }
}

/// Like [`simulate_beats`], with the testbench's traffic: random valid gaps
/// and back-pressure, as seeded.
pub fn simulate_traffic(
    parts: &[Part],
    inputs: usize,
    outputs: usize,
    driver: Driver,
    limit: u64,
) -> Option<Beats> {
    let (fires, _) = run(parts, (inputs, outputs), driver, limit, Record::Ends)?;
    Some(Beats { inputs: fires[0].clone(), outputs: fires[parts.len()].clone() })
}

/// The handshakes at every point of the chain: element 0 the input, element
/// i + 1 the output of part i, each a list of cycles.
pub fn simulate_parts(
    parts: &[Part],
    inputs: usize,
    outputs: usize,
    driver: Driver,
    limit: u64,
) -> Option<Vec<Vec<u64>>> {
    run(parts, (inputs, outputs), driver, limit, Record::All).map(|(fires, _)| fires)
}

/// Which handshakes a run keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Record {
    /// Every point's.
    All,
    /// The input's and the output's.
    Ends,
    /// None (the parts' final states are the answer).
    Nothing,
}

/// The cycle loop: handshakes at every point `record` asks for (the others
/// left empty), and the parts' final states.
fn run(
    parts: &[Part],
    (inputs, outputs): (usize, usize),
    mut driver: Driver,
    limit: u64,
    record: Record,
) -> Option<(Vec<Vec<u64>>, Vec<State>)> {
    let mut states: Vec<State> = parts.iter().map(State::new).collect();
    let n = states.len();
    let mut fires: Vec<Vec<u64>> = vec![Vec::new(); n + 1];
    let keep: Vec<bool> = (0..=n)
        .map(|i| match record {
            Record::All => true,
            Record::Ends => i == 0 || i == n,
            Record::Nothing => false,
        })
        .collect();
    let (mut taken, mut given) = (0, 0);
    let mut ready = vec![false; n + 1];
    let mut valid = vec![false; n + 1];
    for cycle in 0..limit {
        if given == outputs && taken == inputs {
            return Some((fires, states));
        }
        ready[n] = driver.m_ready;
        valid[0] = driver.s_valid;
        for (i, s) in states.iter().enumerate().rev() {
            (ready[i], valid[i + 1]) = s.signals(ready[i + 1]);
        }
        for i in 0..=n {
            if valid[i] && ready[i] && keep[i] {
                fires[i].push(cycle);
            }
        }
        taken += usize::from(valid[0] && ready[0]);
        given += usize::from(valid[n] && ready[n]);
        for (i, s) in states.iter_mut().enumerate() {
            s.clock(valid[i], ready[i + 1], ready[i], valid[i + 1]);
        }
        driver.clock(cycle, valid[0] && ready[0], taken, inputs);
    }
    (given == outputs && taken == inputs).then_some((fires, states))
}

/// The largest number of beats every part held at once (FIFOs only; 0 for
/// the rest) while `images` images ran through the chain, image k offered no
/// earlier than `warmup + k * period`, without gaps or back-pressure.
pub fn fifo_peaks(
    parts: &[Part],
    in_beats: usize,
    out_beats: usize,
    images: usize,
    period: u64,
    warmup: u64,
    limit: u64,
) -> Option<Vec<usize>> {
    let mut driver = Driver::new(Traffic { warmup, ..Traffic::FULL });
    driver.pace = Some((period, in_beats));
    let counts = (in_beats * images, out_beats * images);
    let (_, states) = run(parts, counts, driver, limit, Record::Nothing)?;
    Some(
        states
            .iter()
            .map(|s| match s {
                State::Fifo(f) => f.peak,
                _ => 0,
            })
            .collect(),
    )
}

/// Runs `images` images through the chain after `warmup` idle cycles, the
/// input then always valid and the output always ready: `in_beats` input
/// beats and `out_beats` output beats per image.
pub fn simulate(
    parts: &[Part],
    in_beats: usize,
    out_beats: usize,
    images: usize,
    warmup: u64,
    limit: u64,
) -> Result<Timeline, Stuck> {
    let driver = Driver::new(Traffic { warmup, ..Traffic::FULL });
    let beats = simulate_traffic(parts, in_beats * images, out_beats * images, driver, limit)
        .ok_or(Stuck { images, limit })?;
    Ok(beats.timeline(in_beats, out_beats))
}

#[cfg(test)]
mod tests;

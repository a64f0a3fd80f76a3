//! Frames: the check, requests as bytes, and answers read back from a byte
//! stream that may hold garbage.

use serde::Serialize;

use super::codes::{pack_codes, packed_len, unpack_codes};
use super::{kind, LinkError, NO_SEQ, SYNC};
use crate::quant::FixedFormat;

/// CRC-8 with polynomial 0x07 and initial value 0 (no reflection, no final
/// XOR): the frames' check, one byte at a time as the board computes it.
pub fn crc8(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |crc, &b| {
        (0..8).fold(crc ^ b, |c, _| if c & 0x80 != 0 { (c << 1) ^ 0x07 } else { c << 1 })
    })
}

/// Bytes a frame adds to its body: sync, type, check.
const FRAMING: usize = 3;

/// Bytes of a classify request: framing, the sequence number, the image's
/// `inputs` codes of `bits` bits packed.
pub fn request_len(inputs: usize, bits: u32) -> usize {
    FRAMING + 1 + packed_len(inputs, bits)
}

/// Bytes of the body of a classify answer: the sequence number, the class
/// (u16), the `outputs` codes of `bits` bits packed.
fn classified_body_len(outputs: usize, bits: u32) -> usize {
    1 + 2 + packed_len(outputs, bits)
}

/// Bytes of a classify answer.
pub fn answer_len(outputs: usize, bits: u32) -> usize {
    FRAMING + classified_body_len(outputs, bits)
}

/// Bits on an 8N1 line for `bytes` bytes: a start and a stop bit each.
pub fn line_bits(bytes: usize) -> u64 {
    10 * bytes as u64
}

/// A frame: sync, type, body, check.
fn frame(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + FRAMING);
    out.push(SYNC);
    out.push(kind);
    out.extend_from_slice(body);
    out.push(crc8(&out[1..]));
    out
}

/// A request of the host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Identify,
    /// One image's input codes (in the design's input stream order), each of
    /// `bits` bits, with a sequence number the answer repeats.
    Classify {
        seq: u8,
        codes: Vec<i64>,
        bits: u32,
    },
}

impl Request {
    /// The request's frame.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Request::Identify => frame(kind::IDENTIFY, &[]),
            Request::Classify { seq, codes, bits } => {
                let mut body = vec![*seq];
                body.extend(pack_codes(codes, *bits));
                frame(kind::CLASSIFY, &body)
            }
        }
    }
}

/// Why the board refused a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame's check did not match.
    Check,
    /// A frame type the board does not know.
    Type,
    /// The line broke a byte: a low stop bit, a break, or a byte lost.
    Line,
    /// The line went quiet inside a frame.
    Truncated,
    /// A code the board does not send.
    Other(u8),
}

impl ErrorCode {
    pub fn from_byte(b: u8) -> ErrorCode {
        match b {
            1 => ErrorCode::Check,
            2 => ErrorCode::Type,
            3 => ErrorCode::Line,
            4 => ErrorCode::Truncated,
            other => ErrorCode::Other(other),
        }
    }

    pub fn byte(self) -> u8 {
        match self {
            ErrorCode::Check => 1,
            ErrorCode::Type => 2,
            ErrorCode::Line => 3,
            ErrorCode::Truncated => 4,
            ErrorCode::Other(b) => b,
        }
    }
}

/// What a board says it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Info {
    pub version: u8,
    /// The integer network's hash (16 hex digits, as the manifest has it).
    pub network_hash: String,
    pub inputs: u32,
    pub input_format: FixedFormat,
    pub outputs: u32,
    pub output_format: FixedFormat,
    pub cycles_per_image: u32,
    /// Classify requests the board takes in flight at most.
    pub window: u8,
}

/// Bytes of an info body.
const INFO_LEN: usize = 1 + 8 + 4 + 3 + 4 + 3 + 4 + 1;

fn format_bytes(f: FixedFormat) -> [u8; 3] {
    [u8::from(f.signed()), f.bits() as u8, f.frac() as i8 as u8]
}

fn format_of(b: &[u8]) -> Result<FixedFormat, LinkError> {
    FixedFormat::new(b[0] != 0, b[1] as u32, b[2] as i8 as i32)
        .map_err(|e| LinkError::Frame(format!("a format the board states: {e}")))
}

impl Info {
    /// The body of the board's identify answer.
    pub fn body(&self) -> Vec<u8> {
        let hash = u64::from_str_radix(&self.network_hash, 16).unwrap_or(0);
        let mut b = vec![self.version];
        b.extend(hash.to_be_bytes());
        b.extend(self.inputs.to_le_bytes());
        b.extend(format_bytes(self.input_format));
        b.extend(self.outputs.to_le_bytes());
        b.extend(format_bytes(self.output_format));
        b.extend(self.cycles_per_image.to_le_bytes());
        b.push(self.window);
        b
    }

    fn parse(b: &[u8]) -> Result<Info, LinkError> {
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
        let hash = u64::from_be_bytes(b[1..9].try_into().expect("8 bytes"));
        Ok(Info {
            version: b[0],
            network_hash: format!("{hash:016x}"),
            inputs: u32_at(9),
            input_format: format_of(&b[13..16])?,
            outputs: u32_at(16),
            output_format: format_of(&b[20..23])?,
            cycles_per_image: u32_at(23),
            window: b[27],
        })
    }
}

/// An answer of the board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum Answer {
    Info(Info),
    Classified { seq: u8, class: u16, codes: Vec<i64> },
    Error { seq: Option<u8>, code: ErrorCode },
}

impl Answer {
    /// The answer's frame, as the board sends it (for tests and models of
    /// the board).
    pub fn encode(&self, output_bits: u32) -> Vec<u8> {
        match self {
            Answer::Info(info) => frame(kind::INFO, &info.body()),
            Answer::Classified { seq, class, codes } => {
                let mut body = vec![*seq];
                body.extend(class.to_le_bytes());
                body.extend(pack_codes(codes, output_bits));
                frame(kind::CLASSIFIED, &body)
            }
            Answer::Error { seq, code } => {
                frame(kind::ERROR, &[seq.unwrap_or(NO_SEQ), code.byte()])
            }
        }
    }
}

/// Reads answers out of a byte stream. It knows the design's outputs, so the
/// length of a classify answer; bytes outside a good frame are skipped (and
/// counted) until the next `SYNC`.
#[derive(Clone, Debug)]
pub struct Decoder {
    outputs: usize,
    format: FixedFormat,
    buf: Vec<u8>,
    /// Bytes skipped while hunting for a frame.
    pub skipped: usize,
}

impl Decoder {
    /// A decoder for a design of `outputs` outputs of `format`.
    pub fn new(outputs: usize, format: FixedFormat) -> Decoder {
        Decoder { outputs, format, buf: Vec::new(), skipped: 0 }
    }

    /// Bytes of the body of a frame of type `kind` (`None`: not an answer).
    fn body_len(&self, kind: u8) -> Option<usize> {
        match kind {
            kind::INFO => Some(INFO_LEN),
            kind::CLASSIFIED => Some(classified_body_len(self.outputs, self.format.bits())),
            kind::ERROR => Some(2),
            _ => None,
        }
    }

    /// Whether a complete frame with a good check starts at a SYNC at or
    /// after `from` in the buffer.
    fn good_frame_after(&self, from: usize) -> bool {
        (from..self.buf.len()).filter(|&i| self.buf[i] == SYNC).any(|i| {
            let rest = &self.buf[i..];
            match rest.get(1).and_then(|&k| self.body_len(k)) {
                Some(len) if rest.len() >= len + 3 => crc8(&rest[1..2 + len]) == rest[2 + len],
                _ => false,
            }
        })
    }

    /// Takes `bytes` and returns the answers completed by them, in order.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Answer> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            // Hunt for SYNC.
            let start = self.buf.iter().position(|&b| b == SYNC).unwrap_or(self.buf.len());
            self.skipped += start;
            self.buf.drain(..start);
            if self.buf.len() < 2 {
                return out;
            }
            let Some(len) = self.body_len(self.buf[1]) else {
                // Not a frame: this SYNC was garbage.
                self.skipped += 1;
                self.buf.drain(..1);
                continue;
            };
            if self.buf.len() < len + 3 {
                // Incomplete, unless a whole good frame starts later in what
                // it would cover: then this SYNC was garbage.
                if self.good_frame_after(1) {
                    self.skipped += 1;
                    self.buf.drain(..1);
                    continue;
                }
                return out;
            }
            let body = self.buf[2..2 + len].to_vec();
            if crc8(&self.buf[1..2 + len]) != self.buf[2 + len] {
                self.skipped += 1;
                self.buf.drain(..1);
                continue;
            }
            let kind = self.buf[1];
            self.buf.drain(..len + 3);
            let answer = match kind {
                kind::INFO => Info::parse(&body).map(Answer::Info),
                kind::CLASSIFIED => {
                    let class = u16::from_le_bytes([body[1], body[2]]);
                    let codes = unpack_codes(&body[3..], self.outputs, self.format)
                        .expect("the body holds every code");
                    Ok(Answer::Classified { seq: body[0], class, codes })
                }
                _ => Ok(Answer::Error {
                    seq: (body[0] != NO_SEQ).then_some(body[0]),
                    code: ErrorCode::from_byte(body[1]),
                }),
            };
            match answer {
                Ok(a) => out.push(a),
                Err(_) => self.skipped += len + 3,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::VERSION;

    #[test]
    fn the_check_is_crc8_smbus() {
        // The standard check value of CRC-8 (poly 0x07, init 0).
        assert_eq!(crc8(b"123456789"), 0xf4);
        assert_eq!(crc8(&[]), 0);
    }

    fn info() -> Info {
        Info {
            version: VERSION,
            network_hash: "16cf4514eb8177fe".into(),
            inputs: 784,
            input_format: FixedFormat::new(false, 4, 4).unwrap(),
            outputs: 10,
            output_format: FixedFormat::new(true, 9, 3).unwrap(),
            cycles_per_image: 30_000,
            window: 2,
        }
    }

    #[test]
    fn answers_are_read_back_through_garbage_and_split_reads() {
        let f = FixedFormat::new(true, 9, 3).unwrap();
        let answers = vec![
            Answer::Info(info()),
            Answer::Classified {
                seq: 7,
                class: 3,
                codes: vec![-256, 255, 0, 1, -1, 3, 4, 5, 6, 7],
            },
            Answer::Error { seq: Some(8), code: ErrorCode::Check },
            Answer::Error { seq: None, code: ErrorCode::Truncated },
        ];
        let mut stream = vec![0x00, SYNC, 0x13, 0xff];
        for a in &answers {
            stream.extend(a.encode(9));
            stream.extend([SYNC, b'c', 0x01]);
        }
        // A frame with a bad check is skipped too.
        let mut bad = answers[1].encode(9);
        *bad.last_mut().unwrap() ^= 1;
        stream.splice(4..4, bad);
        let mut d = Decoder::new(10, f);
        let mut got = Vec::new();
        for chunk in stream.chunks(5) {
            got.extend(d.push(chunk));
        }
        assert_eq!(got, answers);
        assert!(d.skipped > 0);
    }

    #[test]
    fn frame_lengths_are_the_encoded_frames() {
        for (n, bits) in [(64usize, 8u32), (784, 8), (10, 1), (13, 5), (0, 3)] {
            let codes = vec![1i64; n];
            let request = Request::Classify { seq: 9, codes: codes.clone(), bits };
            assert_eq!(request.encode().len(), request_len(n, bits), "{n} x {bits}");
            let answer = Answer::Classified { seq: 9, class: 3, codes };
            assert_eq!(answer.encode(bits).len(), answer_len(n, bits), "{n} x {bits}");
        }
    }

    #[test]
    fn requests_are_framed_with_their_check() {
        assert_eq!(Request::Identify.encode(), [SYNC, b'I', crc8(b"I")]);
        let r = Request::Classify { seq: 5, codes: vec![1, 2, 3, 15], bits: 4 };
        let bytes = r.encode();
        assert_eq!(bytes[..5], [SYNC, b'C', 5, 0x21, 0xf3]);
        assert_eq!(bytes[5], crc8(&bytes[1..5]));
    }
}

//! The host link of a board: the framed protocol between a host program and
//! a design on a board, over a UART (8 data bits, no parity, one stop bit).
//! One home for the protocol: the host encodes requests and decodes answers
//! here, and the board top is generated from the same constants and sizes.
//!
//! Every frame is `SYNC (0xA5), type, body, check`; the check is CRC-8
//! (polynomial 0x07, initial value 0) of the type and the body. Multi-byte
//! numbers are little endian, the network hash big endian (as its 16 hex
//! digits read). Requests:
//! - `I`, identify: no body.
//! - `C`, classify: a sequence number (1 byte), then the image's input codes
//!   in the design's input stream order, packed least significant bit first
//!   (`codes.rs`).
//!
//! Answers:
//! - `i`: the protocol version, the network hash (8 bytes), the inputs
//!   (u32) and their format (signed, bits, fraction bits: 3 bytes), the
//!   outputs and their format, the cycles per image (u32), and the window:
//!   how many classify requests may be in flight.
//! - `c`: the request's sequence number, the class index (u16: the largest
//!   output, the lowest index on ties), the output codes packed.
//! - `e`: the sequence number of the request it answers ([`NO_SEQ`] when it
//!   could not read one) and an [`ErrorCode`].
//!
//! Answers come in the order of the requests. A receiver that meets a bad
//! frame hunts for the next `SYNC`.

mod codes;
mod frame;
pub mod host;

pub use codes::{pack_codes, packed_len, unpack_codes};
pub use frame::{
    answer_len, crc8, line_bits, request_len, Answer, Decoder, ErrorCode, Info, Request,
};

/// The first byte of every frame.
pub const SYNC: u8 = 0xA5;
/// The version of the protocol the identify answer states.
pub const VERSION: u8 = 1;
/// The sequence number of an error that answers no request it could read.
pub const NO_SEQ: u8 = 0xFF;

/// Frame types.
pub mod kind {
    /// Identify (request).
    pub const IDENTIFY: u8 = b'I';
    /// Classify an image (request).
    pub const CLASSIFY: u8 = b'C';
    /// What the board holds (answer to identify).
    pub const INFO: u8 = b'i';
    /// The outputs of an image (answer to classify).
    pub const CLASSIFIED: u8 = b'c';
    /// An error (answer to a bad frame).
    pub const ERROR: u8 = b'e';
}

/// Errors of the link.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// An answer frame that cannot be read, or one out of turn.
    #[error("a bad answer from the board: {0}")]
    Frame(String),
    #[error(
        "no answer from the board: {what} did not come within {waited:?} (is the board \
         flashed with a shiftkit board build, and the port's baud the build's?)"
    )]
    Timeout { what: String, waited: std::time::Duration },
    #[error("the port vanished (the board was unplugged, or the simulated board stopped)")]
    Vanished,
    #[error("the port: {0}")]
    Io(#[source] std::io::Error),
}

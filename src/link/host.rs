//! The host's side of a conversation with a board: identify it, then stream
//! images with a window of requests in flight, every answer matched to its
//! request. Over any byte port (a serial port, a pseudo-terminal) that reads
//! with a timeout.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use super::frame::{Answer, Decoder, ErrorCode, Info, Request};
use super::LinkError;
use crate::quant::FixedFormat;

/// A byte port: written to, read from with a short timeout.
pub trait Port: Read + Write {}
impl<T: Read + Write> Port for T {}

/// Reads what the port has, up to `deadline`: `Ok(0)` when it had nothing in
/// time. A port that reports its end (a vanished device) is an error.
fn read_some(port: &mut dyn Port, buf: &mut [u8], deadline: Instant) -> Result<usize, LinkError> {
    loop {
        match port.read(buf) {
            Ok(0) => return Err(LinkError::Vanished),
            Ok(n) => return Ok(n),
            Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
                if Instant::now() >= deadline {
                    return Ok(0);
                }
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(LinkError::Io(e)),
        }
    }
}

/// How long identify waits before it asks again: the first bytes after a
/// port opens may meet a board still coming up.
const IDENTIFY_AGAIN: Duration = Duration::from_millis(500);

/// Asks the board what it holds: its identify answer, read within `timeout`
/// (asked again every half second; other answers before it, left over from
/// an earlier session, are dropped).
pub fn identify(port: &mut dyn Port, timeout: Duration) -> Result<Info, LinkError> {
    // The classify answers' length is not known yet: a decoder for one
    // output of one bit reads identify and error answers alike.
    let mut decoder = Decoder::new(1, FixedFormat::new(false, 1, 0).expect("a format"));
    let deadline = Instant::now() + timeout;
    let mut buf = [0u8; 256];
    let mut ask = Instant::now();
    loop {
        if Instant::now() >= ask {
            port.write_all(&Request::Identify.encode()).map_err(LinkError::Io)?;
            port.flush().map_err(LinkError::Io)?;
            ask = Instant::now() + IDENTIFY_AGAIN;
        }
        let n = read_some(port, &mut buf, ask.min(deadline))?;
        if n == 0 && Instant::now() >= deadline {
            return Err(LinkError::Timeout {
                what: "the answer to identify".into(),
                waited: timeout,
            });
        }
        if let Some(Answer::Info(info)) =
            decoder.push(&buf[..n]).into_iter().find(|a| matches!(a, Answer::Info(_)))
        {
            return Ok(info);
        }
    }
}

/// The board's answer to one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Classified { class: u16, codes: Vec<i64> },
    Refused(ErrorCode),
}

/// Sends `images` (each the input codes of one image in the design's input
/// order) as classify requests, at most `window` in flight, and returns each
/// image's answer in order. `timeout` bounds the wait for any one answer;
/// `progress` hears how many are answered.
pub fn classify(
    port: &mut dyn Port,
    info: &Info,
    images: &[Vec<i64>],
    window: usize,
    timeout: Duration,
    progress: &mut dyn FnMut(usize),
) -> Result<Vec<Outcome>, LinkError> {
    let bits = info.input_format.bits();
    let mut decoder = Decoder::new(info.outputs as usize, info.output_format);
    let mut outcomes: Vec<Option<Outcome>> = vec![None; images.len()];
    let (mut sent, mut answered) = (0usize, 0usize);
    let mut buf = [0u8; 4096];
    let window = window.max(1);
    // Sequence numbers go round; a request's is its index modulo 256, and
    // the window keeps the ones in flight distinct.
    while answered < images.len() {
        while sent < images.len() && sent - answered < window {
            let request = Request::Classify { seq: sent as u8, codes: images[sent].clone(), bits };
            port.write_all(&request.encode()).map_err(LinkError::Io)?;
            sent += 1;
        }
        port.flush().map_err(LinkError::Io)?;
        let deadline = Instant::now() + timeout;
        let n = read_some(port, &mut buf, deadline)?;
        if n == 0 {
            return Err(LinkError::Timeout {
                what: format!("the answer to image {answered}"),
                waited: timeout,
            });
        }
        for answer in decoder.push(&buf[..n]) {
            let (seq, outcome) = match answer {
                Answer::Classified { seq, class, codes } => {
                    (Some(seq), Outcome::Classified { class, codes })
                }
                Answer::Error { seq, code } => (seq, Outcome::Refused(code)),
                Answer::Info(_) => continue,
            };
            // An error that names no request answers none: the board saw a
            // broken byte between frames.
            let Some(seq) = seq else { continue };
            let k = (answered..sent).find(|&k| k as u8 == seq && outcomes[k].is_none());
            let Some(k) = k else {
                return Err(LinkError::Frame(format!(
                    "an answer to request {seq}, which is not in flight"
                )));
            };
            outcomes[k] = Some(outcome);
            while answered < images.len() && outcomes[answered].is_some() {
                answered += 1;
            }
            progress(answered);
        }
    }
    Ok(outcomes.into_iter().map(|o| o.expect("every image answered")).collect())
}

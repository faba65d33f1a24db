//! HTTP/1.1 body framing (RFC 9112 §6–7): `Content-Length`, or `Transfer-Encoding: chunked`
//! with chunk extensions ignored and trailer fields skipped; both at once is an error (§6.3: a
//! request smuggling risk); several equal `Content-Length` values are one length; no body for
//! `1xx`, `204` and `304` responses; no framing header = empty body (a sans-IO reader has no
//! "connection closed" to end a body, and GP Amd B peers always frame theirs).
//!
//! Bounds: [`MAX_BODY_BYTES`] checked against each declared length before any of the body is
//! collected; [`MAX_HEADER_BYTES`] for one chunk-size line and for the trailer section.

use super::message::{HttpMessage, Kind};
use super::{excerpt, excerpt_bytes, Scp81Error, MAX_BODY_BYTES, MAX_HEADER_BYTES};

/// A message whose header block has been read and whose body is being collected.
pub(super) struct Partial {
    pub(super) kind: Kind,
    pub(super) message: HttpMessage,
    pub(super) framing: Framing,
}

/// Where body collection stands.
#[derive(Clone, Copy, Debug)]
pub(super) enum Framing {
    /// `Content-Length`: bytes still to come.
    Length(usize),
    /// Before a chunk-size line.
    ChunkSize,
    /// Inside a chunk: bytes still to come.
    ChunkData(usize),
    /// After a chunk's data: its CRLF.
    ChunkEnd,
    /// After the last chunk: trailer fields, bytes seen so far.
    Trailer(usize),
}

/// How the body of a message just read is framed (RFC 9112 §6.3).
pub(super) fn framing(kind: Kind, m: &HttpMessage) -> Result<Framing, Scp81Error> {
    if kind == Kind::Response
        && m.status()
            .is_some_and(|c| (100..200).contains(&c) || c == 204 || c == 304)
    {
        return Ok(Framing::Length(0));
    }
    let te: Vec<&str> = m.headers_named("Transfer-Encoding").collect();
    let cl: Vec<&str> = m.headers_named("Content-Length").collect();
    if !te.is_empty() {
        if !cl.is_empty() {
            return Err(Scp81Error::LengthConflict);
        }
        let codings: Vec<&str> = te
            .iter()
            .flat_map(|v| v.split(','))
            .map(|c| c.trim_matches([' ', '\t']))
            .filter(|c| !c.is_empty())
            .collect();
        return match codings.as_slice() {
            [only] if only.eq_ignore_ascii_case("chunked") => Ok(Framing::ChunkSize),
            _ => Err(Scp81Error::UnsupportedTransferEncoding {
                value: excerpt(&te.join(", ")),
            }),
        };
    }
    let mut length = None;
    for value in cl.iter().flat_map(|v| v.split(',')) {
        let digits = value.trim_matches([' ', '\t']);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Scp81Error::BadContentLength {
                value: excerpt(&cl.join(", ")),
            });
        }
        let n = digits.parse::<u64>().unwrap_or(u64::MAX);
        if length.is_some_and(|l| l != n) {
            return Err(Scp81Error::BadContentLength {
                value: excerpt(&cl.join(", ")),
            });
        }
        length = Some(n);
    }
    let n = length.unwrap_or(0);
    if n > MAX_BODY_BYTES as u64 {
        return Err(Scp81Error::BodyTooLarge {
            declared: n,
            max: MAX_BODY_BYTES,
        });
    }
    // n ≤ MAX_BODY_BYTES, so it fits a usize.
    Ok(Framing::Length(usize::try_from(n).unwrap_or(0)))
}

impl Partial {
    /// Collects body bytes from `input`; returns whether the message is complete and how many
    /// bytes of `input` were used.
    pub(super) fn advance(&mut self, input: &[u8]) -> Result<(bool, usize), Scp81Error> {
        let mut pos = 0;
        loop {
            let rest = input.get(pos..).unwrap_or_default();
            match self.framing {
                Framing::Length(remaining) => {
                    let n = remaining.min(rest.len());
                    self.message
                        .body
                        .extend_from_slice(rest.get(..n).unwrap_or_default());
                    self.framing = Framing::Length(remaining - n);
                    return Ok((remaining == n, pos + n));
                }
                Framing::ChunkData(remaining) => {
                    let n = remaining.min(rest.len());
                    self.message
                        .body
                        .extend_from_slice(rest.get(..n).unwrap_or_default());
                    pos += n;
                    if remaining > n {
                        self.framing = Framing::ChunkData(remaining - n);
                        return Ok((false, pos));
                    }
                    self.framing = Framing::ChunkEnd;
                }
                Framing::ChunkEnd => match rest {
                    [b'\n', ..] => {
                        pos += 1;
                        self.framing = Framing::ChunkSize;
                    }
                    [b'\r', b'\n', ..] => {
                        pos += 2;
                        self.framing = Framing::ChunkSize;
                    }
                    [] | [b'\r'] => return Ok((false, pos)),
                    _ => {
                        return Err(Scp81Error::BadChunk {
                            fault: "chunk data not followed by CRLF",
                            line: excerpt_bytes(rest),
                        })
                    }
                },
                Framing::ChunkSize => {
                    let Some((line, used)) = take_line(rest) else {
                        if rest.len() > MAX_HEADER_BYTES {
                            return Err(Scp81Error::HeaderTooLarge {
                                what: "chunk-size line",
                                max: MAX_HEADER_BYTES,
                            });
                        }
                        return Ok((false, pos));
                    };
                    if used > MAX_HEADER_BYTES {
                        return Err(Scp81Error::HeaderTooLarge {
                            what: "chunk-size line",
                            max: MAX_HEADER_BYTES,
                        });
                    }
                    let size = chunk_size(line)?;
                    pos += used;
                    if size == 0 {
                        self.framing = Framing::Trailer(0);
                        continue;
                    }
                    let total = u64::try_from(self.message.body.len())
                        .unwrap_or(u64::MAX)
                        .saturating_add(size);
                    if total > MAX_BODY_BYTES as u64 {
                        return Err(Scp81Error::BodyTooLarge {
                            declared: total,
                            max: MAX_BODY_BYTES,
                        });
                    }
                    // `total` ≤ MAX_BODY_BYTES, so the size fits a usize.
                    self.framing = Framing::ChunkData(usize::try_from(size).unwrap_or(0));
                }
                Framing::Trailer(seen) => {
                    let Some((line, used)) = take_line(rest) else {
                        if seen.saturating_add(rest.len()) > MAX_HEADER_BYTES {
                            return Err(Scp81Error::HeaderTooLarge {
                                what: "trailer section",
                                max: MAX_HEADER_BYTES,
                            });
                        }
                        return Ok((false, pos));
                    };
                    pos += used;
                    let seen = seen.saturating_add(used);
                    if seen > MAX_HEADER_BYTES {
                        return Err(Scp81Error::HeaderTooLarge {
                            what: "trailer section",
                            max: MAX_HEADER_BYTES,
                        });
                    }
                    if line.is_empty() {
                        return Ok((true, pos));
                    }
                    self.framing = Framing::Trailer(seen);
                }
            }
        }
    }
}

/// The first line of `bytes` without its `\n` or `\r\n`, and the bytes it took; `None` if no
/// `\n` has arrived yet.
fn take_line(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let nl = bytes.iter().position(|&b| b == b'\n')?;
    let line = bytes.get(..nl)?;
    Some((line.strip_suffix(b"\r").unwrap_or(line), nl + 1))
}

/// `1*HEXDIG [BWS ; extensions]`; extensions are ignored.
fn chunk_size(line: &[u8]) -> Result<u64, Scp81Error> {
    let bad = |fault| Scp81Error::BadChunk {
        fault,
        line: excerpt_bytes(line),
    };
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = trim_end_ows(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_hexdigit) {
        return Err(bad("chunk size is not hex digits"));
    }
    let text = std::str::from_utf8(digits).map_err(|_| bad("chunk size is not hex digits"))?;
    u64::from_str_radix(text, 16).map_err(|_| Scp81Error::BodyTooLarge {
        declared: u64::MAX,
        max: MAX_BODY_BYTES,
    })
}

fn trim_end_ows(mut bytes: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

//! Incremental HTTP/1.1 message reading for the bytes of an SCP81 session, which arrive in
//! pieces: TLS records relayed in BIP chunks of at most 237 bytes (`SCP81-BIP.md` §3.1).
//!
//! Empty lines before a start line are skipped (RFC 9112 §2.2); interim `1xx` responses are
//! skipped by [`MessageReader::next_response`]; `Expect: 100-continue` needs nothing from the
//! reader. Line and field rules are in [`super::message`], body framing in `super::body`.
//!
//! Bounds: [`MAX_HEADER_BYTES`] for the start line and headers,
//! [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES) for a body (checked against the declared length
//! before the body is buffered), [`MAX_BUFFERED_BYTES`] unread bytes. Any error is final: the
//! reader drops what it holds and answers every later call with the same error.

use super::body::{framing, Partial};
use super::message::{parse_head, HttpMessage, Kind};
use super::{Scp81Error, MAX_BUFFERED_BYTES, MAX_HEADER_BYTES};
use std::fmt;

/// Incremental parsing of HTTP/1.1 messages arriving in pieces (RFC 9112 as profiled in
/// [`super::message`] and `super::body`; bounded by [`MAX_HEADER_BYTES`],
/// [`MAX_BODY_BYTES`](super::MAX_BODY_BYTES), [`MAX_BUFFERED_BYTES`]). Never panics, whatever
/// the input. Its `Debug` shows counts and the state, not the bytes (they are the plaintext of
/// a TLS session).
#[derive(Default)]
pub struct MessageReader {
    buf: Vec<u8>,
    /// Bytes of `buf` already consumed (dropped lazily).
    at: usize,
    state: State,
    failed: Option<Scp81Error>,
}

enum State {
    /// Looking for the end of the header block; offsets relative to the unread bytes.
    Head {
        /// Where the start line begins (after skipped empty lines).
        start: usize,
        /// Where the line being scanned begins.
        line_start: usize,
        /// How far `\n` has been looked for.
        scanned: usize,
    },
    /// Headers read; the body is being collected.
    Body(Box<Partial>),
}

impl Default for State {
    fn default() -> Self {
        Self::Head {
            start: 0,
            line_start: 0,
            scanned: 0,
        }
    }
}

impl fmt::Debug for MessageReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Head { scanned, .. } => format!("head ({scanned} bytes scanned)"),
            State::Body(p) => format!(
                "{} body ({} bytes, {:?})",
                p.kind.name(),
                p.message.body.len(),
                p.framing
            ),
        };
        f.debug_struct("MessageReader")
            .field("buffered", &self.buffered())
            .field("state", &state)
            .field("failed", &self.failed)
            .finish()
    }
}

impl MessageReader {
    /// An empty reader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds received bytes. Past [`MAX_BUFFERED_BYTES`] unread bytes the reader fails (the next
    /// `next_*` call returns [`Scp81Error::BufferFull`]) and drops them.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if self.at > 0 && self.at >= self.buf.len() / 2 {
            self.buf.drain(..self.at.min(self.buf.len()));
            self.at = 0;
        }
        if self.buffered().saturating_add(bytes.len()) > MAX_BUFFERED_BYTES {
            self.fail(Scp81Error::BufferFull {
                max: MAX_BUFFERED_BYTES,
            });
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// A whole request when one has arrived, leaving any following bytes buffered.
    pub fn next_request(&mut self) -> Result<Option<HttpMessage>, Scp81Error> {
        self.next(Kind::Request)
    }

    /// A whole response when one has arrived (interim `1xx` responses skipped), leaving any
    /// following bytes buffered.
    pub fn next_response(&mut self) -> Result<Option<HttpMessage>, Scp81Error> {
        self.next(Kind::Response)
    }

    /// Bytes received and not yet taken into a message (a partly collected body excluded).
    pub fn buffered(&self) -> usize {
        self.buf.len().saturating_sub(self.at)
    }

    fn fail(&mut self, e: Scp81Error) {
        self.failed = Some(e);
        self.buf = Vec::new();
        self.at = 0;
        self.state = State::default();
    }

    fn next(&mut self, kind: Kind) -> Result<Option<HttpMessage>, Scp81Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        self.step(kind).inspect_err(|e| self.fail(e.clone()))
    }

    fn consume(&mut self, n: usize) {
        self.at = self.at.saturating_add(n).min(self.buf.len());
    }

    fn step(&mut self, kind: Kind) -> Result<Option<HttpMessage>, Scp81Error> {
        loop {
            if matches!(self.state, State::Head { .. }) {
                match self.read_head(kind)? {
                    Some(partial) => self.state = State::Body(Box::new(partial)),
                    None => return Ok(None),
                }
            }
            let State::Body(partial) = &mut self.state else {
                return Ok(None);
            };
            if partial.kind != kind {
                return Err(Scp81Error::WrongKind {
                    partial: partial.kind.name(),
                    asked: kind.name(),
                });
            }
            let unread = self.buf.get(self.at..).unwrap_or_default();
            let (done, used) = partial.advance(unread)?;
            self.consume(used);
            if !done {
                return Ok(None);
            }
            let State::Body(partial) = std::mem::take(&mut self.state) else {
                return Ok(None);
            };
            let message = partial.message;
            let interim = message.status().is_some_and(|c| (100..200).contains(&c));
            if kind == Kind::Response && interim {
                continue;
            }
            return Ok(Some(message));
        }
    }

    /// Scans for the end of the header block; when complete, parses it and consumes it.
    fn read_head(&mut self, kind: Kind) -> Result<Option<Partial>, Scp81Error> {
        let State::Head {
            mut start,
            mut line_start,
            mut scanned,
        } = self.state
        else {
            return Ok(None);
        };
        let unread = self.buf.get(self.at..).unwrap_or_default();
        let mut end = None;
        while let Some(nl) = unread
            .get(scanned..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            let at = scanned + nl;
            scanned = at + 1;
            let line = unread.get(line_start..at).unwrap_or_default();
            let blank = line.is_empty() || line == b"\r";
            if blank && line_start == start {
                start = scanned;
            } else if blank {
                end = Some(scanned);
                break;
            }
            line_start = scanned;
            if scanned - start > MAX_HEADER_BYTES {
                break;
            }
        }
        let Some(end) = end else {
            let len = unread.len();
            if len.saturating_sub(start) > MAX_HEADER_BYTES {
                return Err(Scp81Error::HeaderTooLarge {
                    what: "start line and headers",
                    max: MAX_HEADER_BYTES,
                });
            }
            // No `\n` in what is left: the next scan starts after it. Drop the skipped empty
            // lines now and keep the offsets relative to what remains.
            self.consume(start);
            self.state = State::Head {
                start: 0,
                line_start: line_start - start,
                scanned: len - start,
            };
            return Ok(None);
        };
        if end - start > MAX_HEADER_BYTES {
            return Err(Scp81Error::HeaderTooLarge {
                what: "start line and headers",
                max: MAX_HEADER_BYTES,
            });
        }
        let block = unread.get(start..end).unwrap_or_default();
        let message = parse_head(kind, block)?;
        let framing = framing(kind, &message)?;
        self.consume(end);
        self.state = State::default();
        Ok(Some(Partial {
            kind,
            message,
            framing,
        }))
    }
}

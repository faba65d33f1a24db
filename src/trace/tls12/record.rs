//! TLS 1.2 record framing and the clear handshake: RFC 5246 §6.2.1 (TLSPlaintext /
//! TLSCiphertext headers), §7.4 (handshake message framing), §7.4.1.2–3 (ClientHello,
//! ServerHello); RFC 4279 §2 (the PSK identity of ClientKeyExchange, the identity hint of
//! ServerKeyExchange, in the plain PSK suites); RFC 7627 (extended_master_secret, extension 23) and RFC 7366
//! (encrypt_then_mac, extension 22) as the ServerHello echoes them.
//!
//! Everything here reads borrowed bytes and allocates no more than the input it was given.

use std::fmt::Write as _;

/// The record header: type, version, length.
pub(super) const HEADER: usize = 5;
/// The largest TLSCiphertext fragment (RFC 5246 §6.2.3: 2^14 + 2048).
pub(super) const MAX_FRAGMENT: usize = (1 << 14) + 2048;
/// The largest TLSPlaintext fragment (RFC 5246 §6.2.1).
pub(super) const MAX_PLAINTEXT: usize = 1 << 14;
/// The most clear handshake bytes read per direction before ChangeCipherSpec. A PSK handshake
/// takes a few hundred; anything past this is not a handshake we can follow.
pub(super) const MAX_CLEAR_HANDSHAKE: usize = 64 * 1024;

/// Record content types (RFC 5246 §6.2.1).
pub(super) mod content {
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    pub const ALERT: u8 = 21;
    pub const HANDSHAKE: u8 = 22;
    pub const APPLICATION_DATA: u8 = 23;
}

/// Handshake message types used here (RFC 5246 §7.4).
pub(super) mod handshake_type {
    pub const HELLO_REQUEST: u8 = 0;
    pub const CLIENT_HELLO: u8 = 1;
    pub const SERVER_HELLO: u8 = 2;
    pub const SERVER_KEY_EXCHANGE: u8 = 12;
    pub const SERVER_HELLO_DONE: u8 = 14;
    pub const CLIENT_KEY_EXCHANGE: u8 = 16;
    pub const FINISHED: u8 = 20;
}

const EXT_ENCRYPT_THEN_MAC: u16 = 22;
const EXT_EXTENDED_MASTER_SECRET: u16 = 23;

/// One complete record as framed, before any decryption.
#[derive(Debug, Clone, Copy)]
pub(super) struct Raw<'a> {
    /// Offset of the header in the direction's stream.
    pub offset: usize,
    pub content_type: u8,
    pub version: [u8; 2],
    pub fragment: &'a [u8],
}

impl Raw<'_> {
    /// The offset just after the record.
    pub fn end(&self) -> usize {
        self.offset
            .saturating_add(HEADER)
            .saturating_add(self.fragment.len())
    }
}

/// How a stream ends after its last complete record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Tail {
    /// Exactly at a record boundary.
    Complete,
    /// Inside the record starting at `offset` (header or fragment cut short).
    Truncated { offset: usize, content_type: u8 },
    /// At `offset` comes something that is not a TLS 1.2 record header.
    Malformed { offset: usize, detail: String },
}

/// Splits a direction's stream into records, stopping at the first header that is not TLS.
pub(super) fn frame(stream: &[u8]) -> (Vec<Raw<'_>>, Tail) {
    let mut records = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = stream.get(offset..).unwrap_or_default();
        let Some(&content_type) = rest.first() else {
            return (records, Tail::Complete);
        };
        if let Err(detail) = check_header(rest) {
            return (records, Tail::Malformed { offset, detail });
        }
        let &[_, v0, v1, l0, l1, ..] = rest else {
            return (
                records,
                Tail::Truncated {
                    offset,
                    content_type,
                },
            );
        };
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        let Some(fragment) = rest.get(HEADER..HEADER + length) else {
            return (
                records,
                Tail::Truncated {
                    offset,
                    content_type,
                },
            );
        };
        records.push(Raw {
            offset,
            content_type,
            version: [v0, v1],
            fragment,
        });
        offset = offset.saturating_add(HEADER + length);
    }
}

/// Checks the header bytes present at the start of `rest` (all five, or fewer at the end of
/// the stream).
fn check_header(rest: &[u8]) -> Result<(), String> {
    let seen = rest.get(..HEADER).unwrap_or(rest);
    let shown = || {
        seen.iter().fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02X}");
            s
        })
    };
    if let Some(&t) = seen.first() {
        if !(content::CHANGE_CIPHER_SPEC..=content::APPLICATION_DATA).contains(&t) {
            return Err(format!(
                "record header {}: content type {t} is not a TLS record (20–23): is this \
                 stream TLS, and was it reassembled without gaps?",
                shown()
            ));
        }
    }
    if let Some(&major) = seen.get(1) {
        let minor = seen.get(2).copied();
        if major != 3 || minor.is_some_and(|m| !(1..=3).contains(&m)) {
            return Err(format!(
                "record header {}: version is not TLS 1.0–1.2 (03 01 – 03 03)",
                shown()
            ));
        }
    }
    if let &[_, _, _, l0, l1, ..] = seen {
        let length = usize::from(u16::from_be_bytes([l0, l1]));
        if length > MAX_FRAGMENT {
            return Err(format!(
                "record header {}: length {length} exceeds the TLS limit {MAX_FRAGMENT}",
                shown()
            ));
        }
    }
    Ok(())
}

/// One handshake message read in the clear.
#[derive(Debug, Clone)]
pub(super) struct Message {
    pub msg_type: u8,
    /// Header (type, 24-bit length) and body, as hashed into the transcript.
    pub bytes: Vec<u8>,
    /// Offset of the record in which the message starts.
    pub offset: usize,
}

impl Message {
    pub fn body(&self) -> &[u8] {
        self.bytes.get(4..).unwrap_or_default()
    }
}

/// The handshake messages of one direction before its ChangeCipherSpec. A message cut by the
/// end of the capture is left out; one cut by ChangeCipherSpec, or a handshake longer than
/// [`MAX_CLEAR_HANDSHAKE`], is an error at the offset of the record that shows it.
pub(super) fn clear_handshake(records: &[Raw<'_>]) -> Result<Vec<Message>, (usize, String)> {
    let mut messages = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    let mut started_at = 0usize;
    let mut total = 0usize;
    for raw in records {
        match raw.content_type {
            content::CHANGE_CIPHER_SPEC => {
                if !pending.is_empty() {
                    return Err((
                        raw.offset,
                        format!(
                            "ChangeCipherSpec cuts a handshake message ({} bytes read so far)",
                            pending.len()
                        ),
                    ));
                }
                break;
            }
            content::HANDSHAKE => {}
            _ => continue,
        }
        total = total.saturating_add(raw.fragment.len());
        if total > MAX_CLEAR_HANDSHAKE {
            return Err((
                raw.offset,
                format!("more than {MAX_CLEAR_HANDSHAKE} bytes of clear handshake"),
            ));
        }
        if pending.is_empty() {
            started_at = raw.offset;
        }
        pending.extend_from_slice(raw.fragment);
        while let &[msg_type, a, b, c, ..] = pending.as_slice() {
            let length = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
            let Some(whole) = pending.get(..4 + length) else {
                break;
            };
            messages.push(Message {
                msg_type,
                bytes: whole.to_vec(),
                offset: started_at,
            });
            pending.drain(..4 + length);
            started_at = raw.offset;
        }
    }
    Ok(messages)
}

/// The handshake messages in one decrypted fragment, when it holds whole messages only.
pub(super) fn whole_messages(fragment: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    let mut out = Vec::new();
    let mut rest = fragment;
    while let &[msg_type, a, b, c, ..] = rest {
        let length = usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c);
        let body = rest.get(4..4 + length)?;
        out.push((msg_type, body));
        rest = rest.get(4 + length..).unwrap_or_default();
    }
    rest.is_empty().then_some(out)
}

/// A strict reader over a message body; errors name the field and its offset.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], String> {
        let got = self
            .at
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.at..end))
            .ok_or_else(|| {
                format!(
                    "{what} at body byte {} needs {n} bytes, {} left",
                    self.at,
                    self.bytes.len().saturating_sub(self.at)
                )
            })?;
        self.at += n;
        Ok(got)
    }

    fn u8(&mut self, what: &str) -> Result<u8, String> {
        let &[v] = self.take(1, what)? else {
            return Err(format!("{what}: short read"));
        };
        Ok(v)
    }

    fn u16(&mut self, what: &str) -> Result<u16, String> {
        let &[a, b] = self.take(2, what)? else {
            return Err(format!("{what}: short read"));
        };
        Ok(u16::from_be_bytes([a, b]))
    }

    fn random(&mut self) -> Result<[u8; 32], String> {
        let bytes = self.take(32, "random")?;
        <[u8; 32]>::try_from(bytes).map_err(|_| "random: short read".to_owned())
    }

    fn vec8(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u8(what)?;
        self.take(usize::from(n), what)
    }

    fn vec16(&mut self, what: &str) -> Result<&'a [u8], String> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn finish(&self, what: &str) -> Result<(), String> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "{what}: {} trailing bytes at body byte {}",
                self.bytes.len() - self.at,
                self.at
            ))
        }
    }
}

/// The extension types of an extensions block, refusing duplicates.
fn extensions(block: &[u8], what: &str) -> Result<Vec<u16>, String> {
    let mut r = Reader::new(block);
    let mut seen = Vec::new();
    while !r.is_empty() {
        let ext = r.u16("extension type")?;
        r.vec16("extension data")?;
        if seen.contains(&ext) {
            return Err(format!("{what}: extension {ext} appears twice"));
        }
        seen.push(ext);
    }
    Ok(seen)
}

/// What the decoder needs from a ClientHello.
#[derive(Debug, Clone)]
pub(super) struct ClientHello {
    pub random: [u8; 32],
}

/// The start both hellos share: version, random, session id (at most 32 bytes).
fn hello_head(r: &mut Reader<'_>, version: &str) -> Result<(u16, [u8; 32]), String> {
    let v = r.u16(version)?;
    let random = r.random()?;
    let session_id = r.vec8("session_id")?;
    if session_id.len() > 32 {
        return Err(format!(
            "session_id of {} bytes (at most 32)",
            session_id.len()
        ));
    }
    Ok((v, random))
}

pub(super) fn client_hello(body: &[u8]) -> Result<ClientHello, String> {
    let mut r = Reader::new(body);
    let (_, random) = hello_head(&mut r, "client_version")?;
    let suites = r.vec16("cipher_suites")?;
    if suites.is_empty() || suites.len() % 2 != 0 {
        return Err(format!("cipher_suites of {} bytes", suites.len()));
    }
    if r.vec8("compression_methods")?.is_empty() {
        return Err("no compression method".into());
    }
    if !r.is_empty() {
        extensions(r.vec16("extensions")?, "ClientHello")?;
    }
    r.finish("ClientHello")?;
    Ok(ClientHello { random })
}

/// What the decoder needs from a ServerHello.
#[derive(Debug, Clone)]
pub(super) struct ServerHello {
    pub version: u16,
    pub random: [u8; 32],
    pub suite: u16,
    pub extended_master_secret: bool,
    pub encrypt_then_mac: bool,
}

pub(super) fn server_hello(body: &[u8]) -> Result<ServerHello, String> {
    let mut r = Reader::new(body);
    let (version, random) = hello_head(&mut r, "server_version")?;
    let suite = r.u16("cipher_suite")?;
    let compression = r.u8("compression_method")?;
    if compression != 0 {
        return Err(format!(
            "compression method {compression} (only 0, none, is read)"
        ));
    }
    let exts = if r.is_empty() {
        Vec::new()
    } else {
        extensions(r.vec16("extensions")?, "ServerHello")?
    };
    r.finish("ServerHello")?;
    Ok(ServerHello {
        version,
        random,
        suite,
        extended_master_secret: exts.contains(&EXT_EXTENDED_MASTER_SECRET),
        encrypt_then_mac: exts.contains(&EXT_ENCRYPT_THEN_MAC),
    })
}

/// The PSK identity of a ClientKeyExchange, or the identity hint of a ServerKeyExchange, in a
/// plain PSK suite (RFC 4279 §2): `opaque psk_identity<0..2^16-1>` and nothing after it.
pub(super) fn psk_identity(body: &[u8], what: &str) -> Result<Vec<u8>, String> {
    let mut r = Reader::new(body);
    let identity = r.vec16("psk_identity")?;
    r.finish(what)?;
    Ok(identity.to_vec())
}

/// The first record after a direction's first ChangeCipherSpec.
pub(super) fn first_encrypted<'r, 'a>(records: &'r [Raw<'a>]) -> Option<&'r Raw<'a>> {
    let ccs = records
        .iter()
        .position(|r| r.content_type == content::CHANGE_CIPHER_SPEC)?;
    records.get(ccs + 1)
}

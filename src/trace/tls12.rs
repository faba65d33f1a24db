//! A passive TLS 1.2 decoder for recorded SCP81 sessions (GP Amendment B over BIP, TLS 1.2
//! with pre-shared keys): given both directions' bytes of one connection and its secrets —
//! the NSS key log the SM-SR wrote (`CLIENT_RANDOM <client random> <master secret>`), or the
//! card's pre-shared keys ([`Secrets`]) — it lists every record, decrypts and authenticates
//! those after ChangeCipherSpec, and checks both Finished messages against the clear
//! handshake. Sans I/O: bytes in, a [`TlsView`] out.
//!
//! RFC 5246 (records §6.2, PRF §5, master secret §8.1, key block §6.3, Finished §7.4.9),
//! RFC 4279 (PSK identity and premaster secret), RFC 5288 (AES-GCM), RFC 7366
//! (encrypt-then-MAC, which OpenSSL negotiates by default for CBC suites), RFC 7627 (extended
//! master secret: it changes how the master secret is derived from the PSK, not how it is
//! used, so a logged master secret decrypts either way). Suites: see [`suite_name`].
//!
//! Any bytes are read without panicking and with allocation bounded by the input: a header
//! that is not TLS ends that direction's listing with a [`TlsError`] naming the offset; a
//! record cut by the end of the capture is listed as [`Verdict::Truncated`]. After a record
//! fails to authenticate, the rest of that direction is listed but not decrypted (the
//! sequence of record MACs is lost, as it is for the receiver).

mod cipher;
mod finished;
mod names;
mod psk;
mod record;
mod secrets;
#[cfg(test)]
mod tests;

pub use names::{alert_name, content_type_name, handshake_name};
pub use secrets::{Psk, SecretSource, Secrets};

use cipher::RecordCipher;
use record::{content, handshake_type, Raw, Tail};
use zeroize::Zeroizing;

/// Which way a record went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// The TLS client (the card's admin agent) to the server (the SM-SR).
    ClientToServer,
    /// The server to the client.
    ServerToClient,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ClientToServer => "client to server",
            Self::ServerToClient => "server to client",
        })
    }
}

/// What became of one record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Sent before this direction's ChangeCipherSpec: the plaintext is the fragment.
    Clear,
    /// Decrypted; MAC or tag verified (and, for Finished, its verify_data).
    Ok,
    /// Did not authenticate (altered, or the secret given is not this session's), or a
    /// Finished that does not match the handshake.
    Failed(String),
    /// Encrypted, and neither the key log (for this client random) nor a PSK (for this
    /// identity) gives the secret.
    NoKey,
    /// Encrypted and not decrypted for another reason: unknown suite, no hello seen, an
    /// earlier record of this direction failed, renegotiation.
    NotDecrypted(String),
    /// Cut by the end of the capture.
    Truncated,
}

/// One record of one direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsRecord {
    pub direction: Direction,
    /// Offset of the record header in that direction's stream.
    pub offset: usize,
    /// Offset just after the record (the stream length for a truncated one).
    pub offset_end: usize,
    pub content_type: u8,
    /// The fragment in the clear, or the decrypted content; `None` when not decrypted.
    pub plaintext: Option<Vec<u8>>,
    pub verdict: Verdict,
}

impl TlsRecord {
    /// One line for a listing: `alert warning close_notify`, `handshake client_hello`,
    /// `application_data 240 bytes`, or the type and size of what was not decrypted.
    pub fn describe(&self) -> String {
        let kind = content_type_name(self.content_type);
        let Some(plain) = &self.plaintext else {
            let size = self.offset_end.saturating_sub(self.offset);
            return format!("{kind} ({size} bytes on the wire, not decrypted)");
        };
        match (self.content_type, plain.as_slice()) {
            (content::ALERT, &[level, description]) => {
                let level = match level {
                    1 => "warning",
                    2 => "fatal",
                    _ => "level?",
                };
                format!("alert {level} {}", alert_name(description))
            }
            (content::HANDSHAKE, _) => match record::whole_messages(plain) {
                Some(messages) => {
                    let names: Vec<&str> =
                        messages.iter().map(|(t, _)| handshake_name(*t)).collect();
                    format!("handshake {}", names.join(", "))
                }
                None => format!("handshake fragment ({} bytes)", plain.len()),
            },
            _ => format!("{kind} {} bytes", plain.len()),
        }
    }
}

/// Bytes that are not a TLS 1.2 record or handshake; that direction's listing stops here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TLS {direction}, byte {offset}: {detail}")]
pub struct TlsError {
    pub direction: Direction,
    pub offset: usize,
    pub detail: String,
}

/// A decoded connection.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsView {
    /// The suite the ServerHello chose.
    pub suite: Option<u16>,
    pub client_random: Option<[u8; 32]>,
    pub server_random: Option<[u8; 32]>,
    /// The ServerHello echoed extended_master_secret (RFC 7627).
    pub extended_master_secret: bool,
    /// The ServerHello echoed encrypt_then_mac (RFC 7366; applies to CBC suites).
    pub encrypt_then_mac: bool,
    /// The PSK identity of the ClientKeyExchange (RFC 4279 §2); see [`printable`].
    pub psk_identity: Option<Vec<u8>>,
    /// The PSK identity hint of the ServerKeyExchange, when the server sent one.
    pub psk_identity_hint: Option<Vec<u8>>,
    /// Where the master secret the records were opened with came from; `None` when none was.
    pub secret_source: Option<SecretSource>,
    /// `Some(true)` when both Finished messages match the clear handshake, `Some(false)` when
    /// one does not, `None` when not checked (see `note`).
    pub handshake_verified: Option<bool>,
    /// Client-to-server records in stream order, then server-to-client ones.
    pub records: Vec<TlsRecord>,
    pub errors: Vec<TlsError>,
    /// Why records were not decrypted, or what was not checked.
    pub note: Option<String>,
}

impl TlsView {
    /// OpenSSL's name of the suite, when this decoder reads it.
    pub fn suite_name(&self) -> Option<&'static str> {
        self.suite.and_then(suite_name)
    }

    /// The records of one direction, in stream order.
    pub fn records_in(&self, direction: Direction) -> impl Iterator<Item = &TlsRecord> {
        self.records
            .iter()
            .filter(move |r| r.direction == direction)
    }

    /// The record holding byte `offset` of `direction`'s stream.
    pub fn record_at(&self, direction: Direction, offset: usize) -> Option<&TlsRecord> {
        self.records_in(direction)
            .find(|r| r.offset <= offset && offset < r.offset_end)
    }
}

/// The application data of `direction` that decrypted and authenticated, in order.
pub fn application_data(view: &TlsView, direction: Direction) -> Vec<u8> {
    view.records_in(direction)
        .filter(|r| r.content_type == content::APPLICATION_DATA && r.verdict == Verdict::Ok)
        .filter_map(|r| r.plaintext.as_deref())
        .flatten()
        .copied()
        .collect()
}

/// A PSK identity (or hint) for a listing: the text when it is printable ASCII, else upper-case
/// hex (`0x…`).
pub fn printable(identity: &[u8]) -> String {
    if identity.is_empty() {
        "(empty)".into()
    } else if identity.iter().all(|&b| b.is_ascii_graphic() || b == b' ') {
        String::from_utf8_lossy(identity).into_owned()
    } else {
        format!("0x{}", hex::encode_upper(identity))
    }
}

/// OpenSSL's name of a suite this decoder reads: PSK with AES-128/256 in GCM or CBC (SHA,
/// SHA256, SHA384) and the NULL PSK suites; `None` for any other.
pub fn suite_name(id: u16) -> Option<&'static str> {
    cipher::find_suite(id).map(|s| s.name)
}

/// What the decoder knows of the session once both hellos are read.
struct Session {
    suite: &'static cipher::Suite,
    master: Zeroizing<Vec<u8>>,
}

/// Decodes one connection with a key log only: `master_secret` maps a client random to the
/// key log's master secret. See [`decode_with`].
pub fn decode(
    client_to_server: &[u8],
    server_to_client: &[u8],
    master_secret: impl Fn(&[u8; 32]) -> Option<Vec<u8>>,
) -> TlsView {
    decode_with(
        client_to_server,
        server_to_client,
        &secrets::MasterSecretFn(master_secret),
    )
}

/// Decodes one connection: `client_to_server` and `server_to_client` are the two byte
/// streams from their first byte; `secrets` gives the key log's master secret or the PSKs
/// to try (the key log first).
pub fn decode_with(
    client_to_server: &[u8],
    server_to_client: &[u8],
    secrets: &dyn Secrets,
) -> TlsView {
    let mut view = TlsView::default();
    let mut notes: Vec<String> = Vec::new();
    let (c_raw, c_tail) = record::frame(client_to_server);
    let (s_raw, s_tail) = record::frame(server_to_client);
    let mut handshake = |direction, raws: &[Raw<'_>]| {
        record::clear_handshake(raws).unwrap_or_else(|(offset, detail)| {
            view.errors.push(TlsError {
                direction,
                offset,
                detail,
            });
            Vec::new()
        })
    };
    let c_hs = handshake(Direction::ClientToServer, &c_raw);
    let s_hs = handshake(Direction::ServerToClient, &s_raw);
    let hello = |messages: &[record::Message], want: u8| {
        messages.first().filter(|m| m.msg_type == want).cloned()
    };
    let client_hello = hello(&c_hs, handshake_type::CLIENT_HELLO).and_then(|m| {
        record::client_hello(m.body())
            .map_err(|detail| hello_error(&mut view, Direction::ClientToServer, &m, detail))
            .ok()
    });
    let server_hello = hello(&s_hs, handshake_type::SERVER_HELLO).and_then(|m| {
        record::server_hello(m.body())
            .map_err(|detail| hello_error(&mut view, Direction::ServerToClient, &m, detail))
            .ok()
    });
    view.client_random = client_hello.as_ref().map(|h| h.random);
    if let Some(sh) = &server_hello {
        view.server_random = Some(sh.random);
        view.suite = Some(sh.suite);
        view.extended_master_secret = sh.extended_master_secret;
        view.encrypt_then_mac = sh.encrypt_then_mac;
    }
    let known_suite = server_hello
        .as_ref()
        .and_then(|sh| cipher::find_suite(sh.suite));
    if known_suite.is_some() {
        // Every suite read is a plain PSK one: the identity is the whole message (RFC 4279 §2).
        view.psk_identity = psk_identity(&mut view, Direction::ClientToServer, &c_hs);
        view.psk_identity_hint = psk_identity(&mut view, Direction::ServerToClient, &s_hs);
    }

    // The session's keys, or the verdict of every encrypted record.
    let session = (|| -> Result<(Session, cipher::Keys, cipher::Keys), Verdict> {
        let not = |why: String| Verdict::NotDecrypted(why);
        let ch = client_hello.as_ref().ok_or_else(|| {
            not("no ClientHello in the capture: the client random is unknown".into())
        })?;
        let sh = server_hello
            .as_ref()
            .ok_or_else(|| not("no ServerHello in the capture: the suite is unknown".into()))?;
        if sh.version != 0x0303 {
            return Err(not(format!(
                "ServerHello version {:04X} is not TLS 1.2",
                sh.version
            )));
        }
        let suite = cipher::find_suite(sh.suite).ok_or_else(|| {
            not(format!(
                "cipher suite {:04X} is not one this decoder reads",
                sh.suite
            ))
        })?;
        let chosen = secrets::choose(
            secrets,
            &secrets::Handshake {
                suite,
                client_random: &ch.random,
                server_random: &sh.random,
                extended_master_secret: sh.extended_master_secret,
                encrypt_then_mac: sh.encrypt_then_mac,
                client: &c_hs,
                server: &s_hs,
                psk_identity: view.psk_identity.as_deref(),
                first_encrypted: [
                    record::first_encrypted(&c_raw),
                    record::first_encrypted(&s_raw),
                ],
            },
            &mut notes,
        )?;
        let (client, server) = cipher::key_block(suite, &chosen.master, &ch.random, &sh.random)
            .map_err(|e| not(format!("key derivation failed: {e}")))?;
        view.secret_source = Some(chosen.source);
        let master = chosen.master;
        Ok((Session { suite, master }, client, server))
    })();
    let (session, c_cipher, s_cipher) = match session {
        Ok((session, client, server)) => {
            let etm = view.encrypt_then_mac;
            let suite = session.suite;
            (
                Some(session),
                Ok(RecordCipher::new(suite, client, etm)),
                Ok(RecordCipher::new(suite, server, etm)),
            )
        }
        Err(verdict) => {
            // `secrets::choose` notes a missing key; the reasons not to decrypt are noted here.
            if let Verdict::NotDecrypted(why) = &verdict {
                notes.push(why.clone());
            }
            (None, Err(verdict.clone()), Err(verdict))
        }
    };

    let c_first = list(
        Direction::ClientToServer,
        client_to_server.len(),
        &c_raw,
        &c_tail,
        c_cipher,
        &mut view,
    );
    let s_first = list(
        Direction::ServerToClient,
        server_to_client.len(),
        &s_raw,
        &s_tail,
        s_cipher,
        &mut view,
    );

    if let Some(session) = &session {
        check_finished(
            session,
            &c_hs,
            &s_hs,
            [c_first, s_first],
            &mut view,
            &mut notes,
        );
    }
    if !notes.is_empty() {
        view.note = Some(notes.join("; "));
    }
    view
}

/// The PSK identity (client) or identity hint (server) of `direction`'s key exchange message,
/// when it sent one; a malformed one is an error at its offset.
fn psk_identity(
    view: &mut TlsView,
    direction: Direction,
    messages: &[record::Message],
) -> Option<Vec<u8>> {
    let want = match direction {
        Direction::ClientToServer => handshake_type::CLIENT_KEY_EXCHANGE,
        Direction::ServerToClient => handshake_type::SERVER_KEY_EXCHANGE,
    };
    let m = messages.iter().find(|m| m.msg_type == want)?;
    record::psk_identity(m.body(), handshake_name(want))
        .map_err(|detail| hello_error(view, direction, m, detail))
        .ok()
}

fn hello_error(view: &mut TlsView, direction: Direction, m: &record::Message, detail: String) {
    view.errors.push(TlsError {
        direction,
        offset: m.offset,
        detail: format!("{}: {detail}", handshake_name(m.msg_type)),
    });
}

/// Lists one direction's records into `view`; the index of its first encrypted record.
fn list(
    direction: Direction,
    stream_len: usize,
    raws: &[Raw<'_>],
    tail: &Tail,
    mut cipher: Result<RecordCipher, Verdict>,
    view: &mut TlsView,
) -> Option<usize> {
    let mut first_encrypted = None;
    let mut stopped: Option<String> = None;
    for raw in raws {
        let encrypted = first_encrypted.is_some();
        let (plaintext, verdict) = match (&mut cipher, &stopped) {
            _ if !encrypted => (Some(raw.fragment.to_vec()), Verdict::Clear),
            (_, Some(why)) => (None, Verdict::NotDecrypted(why.clone())),
            (Err(verdict), None) => (None, verdict.clone()),
            (Ok(c), None) => match c.open(raw.content_type, raw.version, raw.fragment) {
                Ok(plain) => {
                    if raw.content_type == content::CHANGE_CIPHER_SPEC {
                        stopped = Some(
                            "renegotiation (ChangeCipherSpec under encryption) is not followed"
                                .into(),
                        );
                    }
                    (Some(plain), Verdict::Ok)
                }
                Err(e) => {
                    stopped = Some(format!(
                        "the record at byte {} of this direction failed",
                        raw.offset
                    ));
                    (None, Verdict::Failed(e))
                }
            },
        };
        if !encrypted && raw.content_type == content::CHANGE_CIPHER_SPEC {
            if raw.fragment != [1] {
                view.errors.push(TlsError {
                    direction,
                    offset: raw.offset,
                    detail: "ChangeCipherSpec is not the single byte 01".into(),
                });
            }
            first_encrypted = Some(view.records.len() + 1);
        }
        view.records.push(TlsRecord {
            direction,
            offset: raw.offset,
            offset_end: raw.end(),
            content_type: raw.content_type,
            plaintext,
            verdict,
        });
    }
    match tail {
        Tail::Complete => {}
        Tail::Truncated {
            offset,
            content_type,
        } => view.records.push(TlsRecord {
            direction,
            offset: *offset,
            offset_end: stream_len,
            content_type: *content_type,
            plaintext: None,
            verdict: Verdict::Truncated,
        }),
        Tail::Malformed { offset, detail } => view.errors.push(TlsError {
            direction,
            offset: *offset,
            detail: detail.clone(),
        }),
    }
    first_encrypted.filter(|&i| i < view.records.len())
}

/// Checks each direction's first encrypted record, when it decrypted to a Finished, against
/// the clear handshake; a mismatch fails that record.
fn check_finished(
    session: &Session,
    client: &[record::Message],
    server: &[record::Message],
    first: [Option<usize>; 2],
    view: &mut TlsView,
    notes: &mut Vec<String>,
) {
    let message = |i: Option<usize>| {
        let r = view.records.get(i?)?;
        (r.verdict == Verdict::Ok && r.content_type == content::HANDSHAKE)
            .then(|| finished::as_finished(r.plaintext.as_deref()?))
            .flatten()
    };
    let [c_index, s_index] = first;
    let got = finished::Finished {
        client: message(c_index),
        server: message(s_index),
    };
    match finished::check(session.suite, &session.master, client, server, got) {
        Ok(outcome) => {
            for (index, ok) in [c_index, s_index].into_iter().zip(outcome) {
                if let (Some(r), Some(false)) = (index.and_then(|i| view.records.get_mut(i)), ok) {
                    r.verdict = Verdict::Failed(
                        "Finished verify_data does not match the clear handshake".into(),
                    );
                }
            }
            view.handshake_verified = match outcome {
                [Some(true), Some(true)] => Some(true),
                [Some(false), _] | [_, Some(false)] => Some(false),
                _ => {
                    notes.push("Finished not checked: not both decrypted".into());
                    None
                }
            };
        }
        Err(why) => notes.push(format!("Finished not checked: {why}")),
    }
}

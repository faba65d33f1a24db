//! Where a session's master secret comes from: a key log's `CLIENT_RANDOM` line, or a
//! pre-shared key named by the ClientKeyExchange's identity and derived through the clear
//! handshake ([`super::psk`]). Every secret offered is a candidate, the key log's first; when
//! there are several, the first whose keys authenticate the first encrypted record (the
//! client's Finished, else the server's) opens the session. When none does, the first is used,
//! so that the records say `Failed` rather than nothing.

use super::cipher::{self, RecordCipher, Suite};
use super::psk::{Derivation, MASTER_SECRET};
use super::record::{Message, Raw};
use super::{printable, Verdict};
use zeroize::Zeroizing;

/// What a reader knows of the sessions it decodes.
pub trait Secrets {
    /// The master secret a key log holds for the session with this client random.
    fn master_secret(&self, _client_random: &[u8; 32]) -> Option<Zeroizing<Vec<u8>>> {
        None
    }

    /// The pre-shared keys to try for a session whose client sent this PSK identity (RFC 4279
    /// §2), the likeliest first.
    fn psks(&self, _identity: &[u8]) -> Vec<Psk> {
        Vec::new()
    }
}

/// A pre-shared key to try, and where it came from.
#[derive(Clone)]
pub struct Psk {
    /// For the listing, e.g. `EIS SCP81 key set KVN 40 KID 01`.
    pub source: String,
    pub key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Psk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Psk")
            .field("source", &self.source)
            .field("key", &"REDACTED")
            .finish()
    }
}

/// Where the master secret the records were opened with came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The key log's `CLIENT_RANDOM` line of this session.
    KeyLog,
    /// Derived from a pre-shared key and the clear handshake; the key's source.
    Psk(String),
}

impl std::fmt::Display for SecretSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::KeyLog => f.write_str("the key log's master secret"),
            Self::Psk(source) => write!(f, "derived from the PSK of {source}"),
        }
    }
}

/// A key log given as a function from client random to master secret.
pub(super) struct MasterSecretFn<F>(pub F);

impl<F: Fn(&[u8; 32]) -> Option<Vec<u8>>> Secrets for MasterSecretFn<F> {
    fn master_secret(&self, client_random: &[u8; 32]) -> Option<Zeroizing<Vec<u8>>> {
        (self.0)(client_random).map(Zeroizing::new)
    }
}

/// What the choice needs of the session.
pub(super) struct Handshake<'a> {
    pub suite: &'static Suite,
    pub client_random: &'a [u8; 32],
    pub server_random: &'a [u8; 32],
    pub extended_master_secret: bool,
    pub encrypt_then_mac: bool,
    pub client: &'a [Message],
    pub server: &'a [Message],
    pub psk_identity: Option<&'a [u8]>,
    /// Each direction's first record after its ChangeCipherSpec.
    pub first_encrypted: [Option<&'a Raw<'a>>; 2],
}

/// The master secret chosen, and its source.
pub(super) struct Chosen {
    pub master: Zeroizing<Vec<u8>>,
    pub source: SecretSource,
}

/// Chooses the master secret of a session, noting in `notes` what was tried and did not
/// open it. With no candidate: [`Verdict::NoKey`] when no secret was given for the session (a
/// note says so), `NotDecrypted` when one was and cannot be used (a key log's secret of the
/// wrong length, a PSK over 2^16 - 1 bytes, a handshake no PSK derives from).
pub(super) fn choose(
    secrets: &dyn Secrets,
    h: &Handshake<'_>,
    notes: &mut Vec<String>,
) -> Result<Chosen, Verdict> {
    let mut candidates: Vec<Chosen> = Vec::new();
    let mut unusable: Vec<String> = Vec::new();
    let from_key_log = secrets.master_secret(h.client_random);
    let in_key_log = from_key_log.is_some();
    if let Some(master) = from_key_log {
        if master.len() == MASTER_SECRET {
            candidates.push(Chosen {
                master,
                source: SecretSource::KeyLog,
            });
        } else {
            unusable.push(format!(
                "the key log's master secret is {} bytes, not {MASTER_SECRET}",
                master.len()
            ));
        }
    }
    let psks = h
        .psk_identity
        .map(|id| secrets.psks(id))
        .unwrap_or_default();
    let psks_offered = psks.len();
    if !psks.is_empty() {
        let derivation = Derivation::new(
            h.suite,
            h.extended_master_secret,
            h.client,
            h.server,
            h.client_random,
            h.server_random,
        );
        match derivation {
            Ok(d) => {
                for p in psks {
                    match d.master_secret(&p.key) {
                        Ok(master) => candidates.push(Chosen {
                            master,
                            source: SecretSource::Psk(p.source),
                        }),
                        Err(e) => unusable.push(format!("the PSK of {}: {e}", p.source)),
                    }
                }
            }
            Err(e) => unusable.push(format!("the PSK cannot be used: {e}")),
        }
    }

    if candidates.len() > 1 {
        match candidates.iter().position(|c| opens(h, &c.master)) {
            Some(0) => {}
            Some(i) => {
                if candidates.first().map(|c| &c.source) == Some(&SecretSource::KeyLog) {
                    notes.push("the key log's master secret does not open this session".into());
                }
                candidates.swap(0, i);
            }
            None if h.first_encrypted.iter().any(Option::is_some) => {
                let tried: Vec<String> = candidates.iter().map(|c| c.source.to_string()).collect();
                notes.push(format!(
                    "no secret tried opens the first encrypted record ({}); the records are \
                     listed as the first leaves them",
                    tried.join("; ")
                ));
            }
            None => {}
        }
    }
    let Some(chosen) = candidates.into_iter().next() else {
        if !in_key_log {
            let mut missing = format!(
                "no master secret in the key log for client random {}",
                hex::encode_upper(h.client_random)
            );
            match h.psk_identity {
                Some(id) if psks_offered == 0 => {
                    missing.push_str(&format!(" and no PSK for identity {}", printable(id)));
                }
                Some(_) => {}
                None => missing.push_str(
                    " (and no PSK identity: no readable ClientKeyExchange in the clear \
                     handshake, as in a resumed session or a capture cut short, so no PSK can \
                     open it)",
                ),
            }
            notes.push(missing);
        }
        return Err(if unusable.is_empty() {
            Verdict::NoKey
        } else {
            Verdict::NotDecrypted(unusable.join("; "))
        });
    };
    notes.extend(unusable);
    Ok(chosen)
}

/// Whether the keys of `master` authenticate the client's first encrypted record, or, when the
/// capture has none, the server's.
fn opens(h: &Handshake<'_>, master: &[u8]) -> bool {
    let Ok((client, server)) = cipher::key_block(h.suite, master, h.client_random, h.server_random)
    else {
        return false;
    };
    let (keys, raw) = match h.first_encrypted {
        [Some(raw), _] => (client, raw),
        [None, Some(raw)] => (server, raw),
        [None, None] => return false,
    };
    RecordCipher::new(h.suite, keys, h.encrypt_then_mac)
        .open(raw.content_type, raw.version, raw.fragment)
        .is_ok()
}

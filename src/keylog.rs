//! The key log (`--keylog FILE`, env `SMSR_KEYLOG`): as each secure channel opens, the secrets
//! needed to open that one session again from a trace are appended, and nothing else. Like TLS's
//! `SSLKEYLOGFILE`, one line per secret, hex, fields separated by one space; `#` starts a comment:
//!
//! ```text
//! SCP03 <host challenge> <card challenge> <S-ENC> <S-MAC> <S-RMAC>
//! SCP03T <host challenge> <card challenge> <S-ENC> <S-MAC> <S-RMAC>
//! SCP80 <TAR> <KVN> <KIc byte> <KIc> <KID byte> <KID>
//! CLIENT_RANDOM <client random> <master secret>
//! ```
//!
//! - `SCP03`: a GlobalPlatform SCP03 session on the card (`--es5 scp03`, `gp`, `keys`):
//!   its session keys, found again by the two challenges of its INITIALIZE UPDATE.
//! - `SCP03T`: an SCP03t profile download session (SGP.02 §2.5.2) of the SM-DP, with the
//!   ISD-P keys of ES8 key establishment behind it.
//! - `SCP80`: the OTA key set (ETSI TS 102 225) a secured packet to the application with
//!   this TAR uses; KIc and KID bytes as in the packet header (algorithm and key version).
//!   SCP80 has no session keys: these are the key set's keys.
//! - `CLIENT_RANDOM`: the NSS key log line of a TLS 1.2 session (SCP81 PSK-TLS), which
//!   Wireshark reads as its "(Pre)-Master-Secret log filename" too.
//!
//! The file is created mode 0600 and appended to (several runs can share one); nothing is ever
//! written unless a path was given. The sink is process-wide, as `SSLKEYLOGFILE` is: the secure
//! channels of every role write into it without a handle threaded through each call.

use crate::hexfmt;
use crate::trace::tls12::{printable, Psk, Secrets};
use smsr_proto::ota::scp80::{
    ChecksumAlgorithm, CipherAlgorithm, Integrity, KeyIndicator, KeySet, OtaKey,
};
use smsr_proto::scp03::{AesKey, LoggedSession, SessionKeys};
use smsr_proto::scp81::PskIdentity;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use zeroize::Zeroizing;

/// The environment variable naming the key log, as `--keylog` does.
pub const ENV: &str = "SMSR_KEYLOG";

struct Sink {
    file: File,
    path: PathBuf,
    /// SCP80 lines already written (a key set is logged once per TAR per process).
    scp80: Vec<([u8; 3], u8)>,
}

static SINK: Mutex<Option<Sink>> = Mutex::new(None);

/// Starts logging to `path` (appending; created 0600).
pub fn install(path: &Path) -> std::io::Result<()> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    if let Some(mode) = crate::secret_file::loose_mode(path) {
        tracing::warn!(
            "key log {} has mode {:04o}: others can read the session keys; chmod 600 it",
            path.display(),
            mode & 0o7777
        );
    }
    if let Ok(mut sink) = SINK.lock() {
        *sink = Some(Sink {
            file,
            path: path.to_owned(),
            scp80: Vec::new(),
        });
    }
    Ok(())
}

/// Stops logging (the file stays).
pub fn uninstall() {
    if let Ok(mut sink) = SINK.lock() {
        *sink = None;
    }
}

/// Whether a key log is being written.
pub fn enabled() -> bool {
    SINK.lock().is_ok_and(|s| s.is_some())
}

fn write_line(line: &str) {
    let Ok(mut guard) = SINK.lock() else { return };
    let Some(sink) = guard.as_mut() else { return };
    let line = Zeroizing::new(format!("{line}\n"));
    if let Err(e) = sink
        .file
        .write_all(line.as_bytes())
        .and_then(|()| sink.file.flush())
    {
        tracing::warn!("key log {}: {e}", sink.path.display());
    }
}

fn session_line(label: &str, host_challenge: &[u8], card_challenge: &[u8], keys: &SessionKeys) {
    if !enabled() {
        return;
    }
    let line = Zeroizing::new(format!(
        "{label} {} {} {} {} {}",
        hexfmt::upper(host_challenge),
        hexfmt::upper(card_challenge),
        hexfmt::upper(keys.s_enc.as_bytes()),
        hexfmt::upper(keys.s_mac.as_bytes()),
        hexfmt::upper(keys.s_rmac.as_bytes())
    ));
    write_line(&line);
}

/// An SCP03 session opened on the card.
pub fn scp03(host_challenge: &[u8], card_challenge: &[u8], keys: &SessionKeys) {
    session_line("SCP03", host_challenge, card_challenge, keys);
}

/// An SCP03t download session built by the SM-DP.
pub fn scp03t(host_challenge: &[u8], card_challenge: &[u8], keys: &SessionKeys) {
    session_line("SCP03T", host_challenge, card_challenge, keys);
}

/// The SCP80 key set used for packets to `tar` (once per TAR and key version per process).
pub fn scp80(tar: [u8; 3], keyset: &KeySet) {
    {
        let Ok(mut guard) = SINK.lock() else { return };
        let Some(sink) = guard.as_mut() else { return };
        if sink.scp80.contains(&(tar, keyset.kvn)) {
            return;
        }
        sink.scp80.push((tar, keyset.kvn));
    }
    let line = Zeroizing::new(format!(
        "SCP80 {} {:02X} {:02X} {} {:02X} {}",
        hexfmt::upper(&tar),
        keyset.kvn,
        keyset.kic_indicator().0,
        hexfmt::upper(keyset.kic.as_bytes()),
        keyset.kid_indicator().0,
        hexfmt::upper(keyset.kid.as_bytes())
    ));
    write_line(&line);
}

/// A line OpenSSL's key log callback gives (NSS format).
pub fn tls(line: &str) {
    if enabled() {
        write_line(line.trim_end());
    }
}

/// An SCP80 key set from a key log or an EIS; `tar` `None` applies to any TAR.
#[derive(Clone, Debug)]
pub struct Scp80Keys {
    pub tar: Option<[u8; 3]>,
    pub keyset: KeySet,
}

/// An SCP81 pre-shared key from an EIS: it opens recorded TLS sessions without a key log.
#[derive(Clone)]
pub struct TlsPsk {
    /// The PSK identity the card presents with it; `None` when not known (then tried on every
    /// session, after the keys whose identity matches).
    pub identity: Option<Vec<u8>>,
    pub psk: Zeroizing<Vec<u8>>,
    /// Where it came from, for the listing (`EIS SCP81 key set KVN 40 KID 01`).
    pub source: String,
}

impl std::fmt::Debug for TlsPsk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPsk")
            .field("identity", &self.identity.as_deref().map(printable))
            .field("psk", &"REDACTED")
            .field("source", &self.source)
            .finish()
    }
}

/// What a key log (and an EIS) give a trace reader.
#[derive(Clone, Default)]
pub struct KeyMaterial {
    pub scp03: Vec<LoggedSession>,
    pub scp03t: Vec<LoggedSession>,
    pub scp80: Vec<Scp80Keys>,
    /// TLS 1.2 client random → master secret.
    pub tls: Vec<([u8; 32], Zeroizing<Vec<u8>>)>,
    /// TLS pre-shared keys (SCP81, from an EIS), tried when the key log has no master secret
    /// for a session.
    pub psks: Vec<TlsPsk>,
    /// Lines with labels this reader does not use (other NSS labels, TLS 1.3 secrets).
    pub ignored: usize,
}

impl std::fmt::Debug for KeyMaterial {
    /// Counts only: no secret reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("scp03", &self.scp03.len())
            .field("scp03t", &self.scp03t.len())
            .field("scp80", &self.scp80.len())
            .field("tls", &self.tls.len())
            .field("psks", &self.psks.len())
            .field("ignored", &self.ignored)
            .finish()
    }
}

impl KeyMaterial {
    /// The SCP80 key sets that may open a packet to `tar`.
    pub fn scp80_for(&self, tar: [u8; 3]) -> Vec<KeySet> {
        self.scp80
            .iter()
            .filter(|k| k.tar.is_none_or(|t| t == tar))
            .map(|k| k.keyset.clone())
            .collect()
    }

    /// The master secret logged for a TLS session.
    pub fn master_secret(&self, client_random: &[u8; 32]) -> Option<Vec<u8>> {
        self.tls
            .iter()
            .find(|(r, _)| r == client_random)
            .map(|(_, s)| s.to_vec())
    }

    /// The PSKs to try on a session whose client named `identity`: those given with that
    /// identity, then those given without one, then the others (an identity written another
    /// way, or another SM-SR's): each costs one key derivation, and only one whose keys
    /// authenticate the session's records is kept ([`crate::trace::tls12::Secrets`]).
    pub fn psks_for(&self, identity: &[u8]) -> Vec<Psk> {
        let rank = |p: &TlsPsk| match p.identity.as_deref() {
            Some(id) if same_identity(id, identity) => 0,
            None => 1,
            Some(_) => 2,
        };
        let mut ranked: Vec<(u8, &TlsPsk)> = self.psks.iter().map(|p| (rank(p), p)).collect();
        ranked.sort_by_key(|(r, _)| *r);
        ranked
            .into_iter()
            .map(|(r, p)| Psk {
                source: if r == 2 {
                    format!(
                        "{} (given for identity {}, not the one the client sent)",
                        p.source,
                        p.identity.as_deref().map(printable).unwrap_or_default()
                    )
                } else {
                    p.source.clone()
                },
                key: p.psk.clone(),
            })
            .collect()
    }

    /// Reads a key log (any size up to a bound; unknown labels counted and skipped).
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes = Zeroizing::new(
            smsr_proto::bounded::read(path, KEYLOG_MAX, "key log").map_err(|e| {
                format!(
                    "cannot read key log {}: {e}; give the file the traced run wrote with \
                         --keylog",
                    path.display()
                )
            })?,
        );
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| format!("key log {} is not UTF-8 text: {e}", path.display()))?;
        Self::parse(text).map_err(|e| format!("key log {} {e}", path.display()))
    }

    /// Reads a key log's text; an error names its line.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = Self::default();
        for (i, line) in text.lines().enumerate() {
            out.add_line(line)
                .map_err(|e| format!("line {}: {e} (see the README's key log format)", i + 1))?;
        }
        Ok(out)
    }

    fn add_line(&mut self, line: &str) -> Result<(), String> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Ok(());
        }
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        let hex = |i: usize| -> Result<Zeroizing<Vec<u8>>, String> {
            let f = fields.get(i).ok_or("too few fields")?;
            hexfmt::parse(f)
                .map(Zeroizing::new)
                .map_err(|e| format!("field {}: {e}", i + 1))
        };
        let aes = |i: usize| -> Result<AesKey, String> {
            AesKey::from_bytes(&hex(i)?).map_err(|e| format!("field {}: {e}", i + 1))
        };
        match fields.first().copied() {
            Some(label @ ("SCP03" | "SCP03T")) => {
                if fields.len() != 6 {
                    return Err(format!("{label} has 6 fields, not {}", fields.len()));
                }
                let session = LoggedSession {
                    host_challenge: hex(1)?.to_vec(),
                    card_challenge: hex(2)?.to_vec(),
                    keys: SessionKeys {
                        s_enc: aes(3)?,
                        s_mac: aes(4)?,
                        s_rmac: aes(5)?,
                    },
                };
                if label == "SCP03" {
                    self.scp03.push(session);
                } else {
                    self.scp03t.push(session);
                }
            }
            Some("SCP80") => {
                if fields.len() != 7 {
                    return Err(format!("SCP80 has 7 fields, not {}", fields.len()));
                }
                let tar: [u8; 3] = hex(1)?[..]
                    .try_into()
                    .map_err(|_| "the TAR has 3 bytes".to_owned())?;
                let byte = |i: usize| -> Result<u8, String> {
                    match hex(i)?[..] {
                        [b] => Ok(b),
                        _ => Err(format!("field {} is one byte", i + 1)),
                    }
                };
                let kvn = byte(2)?;
                let kic = KeyIndicator(byte(3)?);
                let kid = KeyIndicator(byte(5)?);
                let (kic_key, kid_key) = (hex(4)?, hex(6)?);
                let keyset = scp80_keyset(kvn, kic, &kic_key, kid, &kid_key)?;
                self.scp80.push(Scp80Keys {
                    tar: Some(tar),
                    keyset,
                });
            }
            Some("CLIENT_RANDOM") => {
                if fields.len() != 3 {
                    return Err(format!("CLIENT_RANDOM has 3 fields, not {}", fields.len()));
                }
                let random: [u8; 32] = hex(1)?[..]
                    .try_into()
                    .map_err(|_| "the client random has 32 bytes".to_owned())?;
                let secret = hex(2)?;
                if secret.len() != 48 {
                    return Err(format!(
                        "a TLS 1.2 master secret has 48 bytes, not {}",
                        secret.len()
                    ));
                }
                self.tls.push((random, secret));
            }
            _ => self.ignored += 1,
        }
        Ok(())
    }
}

impl Secrets for KeyMaterial {
    fn master_secret(&self, client_random: &[u8; 32]) -> Option<Zeroizing<Vec<u8>>> {
        KeyMaterial::master_secret(self, client_random).map(Zeroizing::new)
    }

    fn psks(&self, identity: &[u8]) -> Vec<Psk> {
        self.psks_for(identity)
    }
}

/// Two PSK identities are the same when their bytes are, or when both read as the SGP.02
/// identity (hex TLVs, either case) with the same fields.
fn same_identity(a: &[u8], b: &[u8]) -> bool {
    a == b
        || matches!(
            (PskIdentity::parse(a), PskIdentity::parse(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The largest key log read (a million sessions' worth is far more than any run).
pub const KEYLOG_MAX: u64 = 64 << 20;

/// An SCP80 key set from KIc/KID bytes (explicit algorithms) and keys; an implicit algorithm
/// is taken from the key length (AES for 16/32 bytes, triple DES for 24).
pub fn scp80_keyset(
    kvn: u8,
    kic: KeyIndicator,
    kic_key: &[u8],
    kid: KeyIndicator,
    kid_key: &[u8],
) -> Result<KeySet, String> {
    let cipher = kic
        .cipher()
        .map_err(|e| format!("KIc byte: {e}"))?
        .unwrap_or(if kic_key.len() == 24 {
            CipherAlgorithm::TripleDes3Key
        } else {
            CipherAlgorithm::AesCbc
        });
    let checksum = kid
        .checksum(Integrity::Cc)
        .map_err(|e| format!("KID byte: {e}"))?
        .unwrap_or(if kid_key.len() == 24 {
            ChecksumAlgorithm::TripleDes3KeyMac
        } else {
            ChecksumAlgorithm::AesCmac
        });
    Ok(KeySet {
        kvn,
        cipher,
        kic: OtaKey::new(kic_key),
        checksum,
        kid: OtaKey::new(kid_key),
        counter: 0,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_through_the_reader() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.log");
        install(&path).unwrap();
        let keys = SessionKeys {
            s_enc: AesKey::from_bytes(&[1; 16]).unwrap(),
            s_mac: AesKey::from_bytes(&[2; 16]).unwrap(),
            s_rmac: AesKey::from_bytes(&[3; 16]).unwrap(),
        };
        scp03(&[0xAA; 8], &[0xBB; 8], &keys);
        scp03t(&[0xCC; 8], &[0xDD; 8], &keys);
        let ks = KeySet::aes(1, &[4; 16], &[5; 16]);
        scp80([0, 0, 1], &ks);
        scp80([0, 0, 1], &ks);
        tls(&format!(
            "CLIENT_RANDOM {} {}\n",
            "07".repeat(32),
            "08".repeat(48)
        ));
        uninstall();
        scp03(&[0xEE; 8], &[0xEE; 8], &keys);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains(&format!(
                "SCP80 000001 01 12 {} 12 {}",
                "04".repeat(16),
                "05".repeat(16)
            )),
            "{text}"
        );
        let m = KeyMaterial::read(&path).unwrap();
        assert_eq!(m.scp03.len(), 1);
        assert_eq!(m.scp03[0].host_challenge, vec![0xAA; 8]);
        assert_eq!(m.scp03t[0].keys.s_rmac.as_bytes(), &[3; 16]);
        let k = m.scp80_for([0, 0, 1]);
        assert_eq!(k.len(), 1);
        assert_eq!(k[0].cipher, CipherAlgorithm::AesCbc);
        assert!(m.scp80_for([0, 0, 2]).is_empty());
        assert_eq!(m.master_secret(&[7; 32]).unwrap(), vec![8; 48]);
    }

    #[test]
    fn psks_for_an_identity_come_matching_first() {
        let id = PskIdentity {
            eid: [0x89; 16],
            isd_r: smsr_proto::gp::aid::Aid::isd_r(),
            kid: 1,
            kvn: 0x40,
        }
        .to_bytes();
        let psk = |identity: Option<Vec<u8>>, key: u8, source: &str| TlsPsk {
            identity,
            psk: Zeroizing::new(vec![key; 16]),
            source: source.into(),
        };
        let m = KeyMaterial {
            psks: vec![
                psk(Some(b"other".to_vec()), 0xA1, "a"),
                psk(None, 0xB2, "b"),
                // The SGP.02 identity in lower case is the same identity.
                psk(Some(id.to_ascii_lowercase()), 0xC3, "c"),
            ],
            ..KeyMaterial::default()
        };
        let got = m.psks_for(&id);
        let sources: Vec<&str> = got.iter().map(|p| p.source.as_str()).collect();
        assert_eq!(
            sources,
            [
                "c",
                "b",
                "a (given for identity other, not the one the client sent)"
            ]
        );
        assert_eq!(got[0].key.as_slice(), &[0xC3; 16]);
        assert_eq!(m.psks_for(b"other")[0].source, "a");
        // Counts and identities only: no key in a log line.
        let shown = format!("{m:?} {:?} {:?}", m.psks, got);
        assert!(shown.contains("psks: 3"), "{shown}");
        assert!(!shown.contains("161") && !shown.contains("A1A1"), "{shown}");
    }

    #[test]
    fn bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k");
        std::fs::write(
            &path,
            "# c\nCLIENT_HANDSHAKE_TRAFFIC_SECRET aa bb\nSCP03 00 11\n",
        )
        .unwrap();
        let e = KeyMaterial::read(&path).unwrap_err();
        assert!(e.contains("line 3") && e.contains("6 fields"), "{e}");
        std::fs::write(&path, "SCP80 0000 01 12 00 12 00\n").unwrap();
        assert!(KeyMaterial::read(&path).unwrap_err().contains("TAR"));
        std::fs::write(&path, "CLIENT_HANDSHAKE_TRAFFIC_SECRET aa bb\n").unwrap();
        assert_eq!(KeyMaterial::read(&path).unwrap().ignored, 1);
    }
}

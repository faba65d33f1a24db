//! The JSON keystore: strict parsing (unknown fields, bad hex and bad lengths are errors naming
//! the file and keyset), lookup by name and by EID, and the file permission check.

use super::{eid_string, KeyError, KeyMaterial, KeySource, ResolvedKeys, Warning};
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use smsr_proto::scp03::{AesKey, Diversification};
use std::fmt;
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// The keystore version this tool reads.
pub const KEYSTORE_VERSION: u32 = 1;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    version: u32,
    keysets: Vec<RawKeyset>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyset {
    name: String,
    #[serde(default)]
    eid: Option<String>,
    kvn: u8,
    #[serde(default)]
    enc: Option<RawKey>,
    #[serde(default)]
    mac: Option<RawKey>,
    #[serde(default)]
    dek: Option<RawKey>,
    #[serde(default)]
    master: Option<RawKey>,
    #[serde(default)]
    kdf: Option<String>,
}

/// A key field: the decoded bytes, or why the text is not hex. The text itself is never kept.
struct RawKey(Result<Zeroizing<Vec<u8>>, String>);

impl<'de> Deserialize<'de> for RawKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HexVisitor;
        impl Visitor<'_> for HexVisitor {
            type Value = RawKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key as a hex string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKey, E> {
                Ok(RawKey(decode_hex(v)))
            }
        }
        d.deserialize_str(HexVisitor)
    }
}

/// Hex to bytes; the error describes the problem without repeating the text.
pub(super) fn decode_hex(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let text = text.trim();
    if let Some(pos) = text.find(|c: char| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "not hexadecimal (character {} is not 0-9/A-F)",
            pos + 1
        ));
    }
    if !text.len().is_multiple_of(2) {
        return Err(format!(
            "odd number of hex digits ({}): a key is 32, 48 or 64 hex digits",
            text.len()
        ));
    }
    hex::decode(text)
        .map(Zeroizing::new)
        .map_err(|_| "not hexadecimal".to_owned())
}

/// Bytes to an AES key, with a message naming the field.
pub(super) fn aes_key(
    field: &str,
    raw: Result<Zeroizing<Vec<u8>>, String>,
) -> Result<AesKey, String> {
    let bytes = raw.map_err(|e| format!("\"{field}\" is {e}"))?;
    AesKey::from_bytes(&bytes).map_err(|_| {
        format!(
            "\"{field}\" has {} bytes: SCP03 keys are 16, 24 or 32 bytes (32, 48 or 64 hex digits)",
            bytes.len()
        )
    })
}

/// One keyset of the keystore.
#[derive(Clone, Debug)]
pub struct Keyset {
    /// Unique name.
    pub name: String,
    /// The card's EID (32 digits), if the keyset is tied to one card.
    pub eid: Option<String>,
    /// Key Version Number.
    pub kvn: u8,
    /// Keys.
    pub material: KeyMaterial,
}

impl Keyset {
    /// The keyset as resolved keys from `source`.
    pub fn resolve(&self, source: KeySource) -> Result<ResolvedKeys, String> {
        ResolvedKeys::new(self.kvn, self.material.clone(), source)
    }
}

/// A loaded keystore.
#[derive(Clone, Debug)]
pub struct Keystore {
    path: PathBuf,
    keysets: Vec<Keyset>,
}

impl Keystore {
    /// Reads and validates `path`; warns when others may read it.
    pub fn load(path: &Path) -> Result<(Self, Vec<Warning>), KeyError> {
        let text = smsr_proto::bounded::read(path, smsr_proto::bounded::DOCUMENT_MAX, "a keystore")
            .map(Zeroizing::new)
            .map_err(|source| KeyError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let store = Self::parse(path, &text)?;
        let mut warnings = Vec::new();
        if let Some(mode) = crate::secret_file::loose_mode(path) {
            warnings.push(Warning::KeystoreReadableByOthers {
                path: path.to_path_buf(),
                mode,
            });
        }
        Ok((store, warnings))
    }

    /// Validates a keystore document; `path` is used in messages.
    pub fn parse(path: &Path, text: &[u8]) -> Result<Self, KeyError> {
        let raw: RawStore = serde_json::from_slice(text).map_err(|e| KeyError::Format {
            path: path.to_path_buf(),
            detail: redact_quoted(&e.to_string()),
        })?;
        if raw.version != KEYSTORE_VERSION {
            return Err(KeyError::Format {
                path: path.to_path_buf(),
                detail: format!(
                    "\"version\" is {}, this smsr reads version {KEYSTORE_VERSION}",
                    raw.version
                ),
            });
        }
        let mut keysets: Vec<Keyset> = Vec::with_capacity(raw.keysets.len());
        for (index, k) in raw.keysets.into_iter().enumerate() {
            let label = if k.name.is_empty() {
                format!("#{} (0-based)", index)
            } else {
                format!("{:?}", k.name)
            };
            let invalid = |problem: String| KeyError::InvalidKeyset {
                path: path.to_path_buf(),
                keyset: label.clone(),
                problem,
            };
            if k.name.trim().is_empty() {
                return Err(invalid(
                    "\"name\" is empty: give every keyset a name".into(),
                ));
            }
            if keysets.iter().any(|s| s.name == k.name) {
                return Err(invalid(
                    "the name is used twice: names must be unique (rename one)".into(),
                ));
            }
            let eid = match k.eid {
                Some(e) if e.len() == 32 && e.bytes().all(|b| b.is_ascii_digit()) => Some(e),
                Some(e) => {
                    return Err(invalid(format!(
                        "\"eid\" must be the card's EID as 32 decimal digits (got {} characters); \
                         `smsr info` shows it",
                        e.len()
                    )))
                }
                None => None,
            };
            let material =
                keyset_material(k.enc, k.mac, k.dek, k.master, k.kdf).map_err(&invalid)?;
            material.check().map_err(&invalid)?;
            keysets.push(Keyset {
                name: k.name,
                eid,
                kvn: k.kvn,
                material,
            });
        }
        Ok(Self {
            path: path.to_path_buf(),
            keysets,
        })
    }

    /// The file it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All keysets in file order.
    pub fn keysets(&self) -> &[Keyset] {
        &self.keysets
    }

    /// The keyset called `name`.
    pub fn by_name(&self, name: &str) -> Result<&Keyset, KeyError> {
        self.keysets
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| KeyError::KeysetNotFound {
                path: self.path.clone(),
                name: name.to_owned(),
                available: self.keysets.iter().map(|k| k.name.clone()).collect(),
            })
    }

    /// The keysets for the card with this EID (raw 16 bytes), in file order; with `kvn`, only
    /// those of that KVN.
    pub fn by_eid(&self, eid: &[u8], kvn: Option<u8>) -> Vec<&Keyset> {
        let wanted = eid_string(eid);
        self.keysets
            .iter()
            .filter(|k| k.eid.as_deref() == Some(wanted.as_str()))
            .filter(|k| kvn.is_none_or(|v| v == k.kvn))
            .collect()
    }
}

fn keyset_material(
    enc: Option<RawKey>,
    mac: Option<RawKey>,
    dek: Option<RawKey>,
    master: Option<RawKey>,
    kdf: Option<String>,
) -> Result<KeyMaterial, String> {
    match (enc, mac, master) {
        (None, None, Some(master)) => {
            if dek.is_some() {
                return Err(
                    "has both \"master\" and \"dek\": a master keyset derives Key-DEK too; remove \"dek\""
                        .into(),
                );
            }
            let master = aes_key("master", master.0)?;
            let kdf_name = kdf.ok_or(
                "\"master\" needs \"kdf\": one of none, emv, visa2, kdf3 (the card's diversification)",
            )?;
            let kdf: Diversification = kdf_name
                .parse()
                .map_err(|e: smsr_proto::scp03::ScpError| format!("\"kdf\": {e}"))?;
            Ok(KeyMaterial::Master { master, kdf })
        }
        (Some(enc), Some(mac), None) => {
            if kdf.is_some() {
                return Err(
                    "\"kdf\" goes with \"master\" only: enc/mac/dek are the card's own keys; remove \"kdf\""
                        .into(),
                );
            }
            Ok(KeyMaterial::Static {
                enc: aes_key("enc", enc.0)?,
                mac: aes_key("mac", mac.0)?,
                dek: dek.map(|d| aes_key("dek", d.0)).transpose()?,
            })
        }
        (None, None, None) => Err(
            "has no keys: give \"enc\", \"mac\" and \"dek\", or \"master\" and \"kdf\"".into(),
        ),
        (_, _, Some(_)) => Err(
            "has both \"master\" and enc/mac keys: a keyset has either its own keys or a master key; remove one"
                .into(),
        ),
        (Some(_), None, None) => Err("has \"enc\" but no \"mac\": add \"mac\"".into()),
        (None, Some(_), None) => Err("has \"mac\" but no \"enc\": add \"enc\"".into()),
    }
}

/// JSON parse errors quote the offending text; keys must never be printed, so quoted parts go.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

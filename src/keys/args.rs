//! The key options of every command that opens a secure channel, and their resolution.

use super::store::{aes_key, decode_hex, Keystore};
use super::{
    default_keystore_path, eid_string, KeyError, KeyMaterial, KeySource, ResolvedKeys, Warning,
    KEYSTORE_ENV,
};
use smsr_proto::scp03::{Diversification, ScpMode, ScpOptions, SecurityLevel};
use std::fmt;
use std::path::PathBuf;
use zeroize::Zeroizing;

/// A secret given on the command line or in the environment: kept as text until resolved,
/// zeroized on drop, never printed (clap would repeat a rejected value in its message, so the
/// hex is checked by [`KeyArgs::resolve`] instead).
#[derive(Clone, Default)]
pub struct SecretHex(Zeroizing<String>);

impl SecretHex {
    /// Wraps a secret.
    pub fn new(text: &str) -> Self {
        Self(Zeroizing::new(text.to_owned()))
    }
}

impl fmt::Debug for SecretHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretHex(REDACTED)")
    }
}

fn parse_secret(s: &str) -> Result<SecretHex, std::convert::Infallible> {
    Ok(SecretHex::new(s))
}

/// `--kvn`: one byte in hex as GlobalPlatform writes KVNs (`30`, also `0x30`).
pub fn parse_kvn(s: &str) -> Result<u8, String> {
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    if digits.is_empty() || digits.len() > 2 {
        return Err(format!(
            "{s:?} is not a key version: give one byte in hex, e.g. 30 (00 = the card's first key set)"
        ));
    }
    u8::from_str_radix(digits, 16).map_err(|_| {
        format!("{s:?} is not hexadecimal: give the key version in hex, e.g. 30 for KVN '30'")
    })
}

fn parse_kdf(s: &str) -> Result<Diversification, String> {
    s.parse()
        .map_err(|e: smsr_proto::scp03::ScpError| e.to_string())
}

/// The security level asked for with `--level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LevelChoice {
    /// The highest level the card's "i" parameter offers: '33' with R-ENCRYPTION, '13' with
    /// R-MAC only, else '03'.
    #[default]
    Auto,
    /// Exactly this level (the session fails if the card does not offer it).
    Exactly(SecurityLevel),
}

impl LevelChoice {
    /// The level for a card with these options.
    pub fn resolve(self, card: ScpOptions) -> SecurityLevel {
        match self {
            Self::Exactly(level) => level,
            Self::Auto if card.r_enc => SecurityLevel::CDecREncCMacRMac,
            Self::Auto if card.r_mac => SecurityLevel::CDecCMacRMac,
            Self::Auto => SecurityLevel::CDecCMac,
        }
    }
}

impl fmt::Display for LevelChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Exactly(level) => write!(f, "{level}"),
        }
    }
}

/// `--level`: `auto`, a name (`cmac`, `cmac-cdec`, `cmac-rmac`, `cmac-cdec-rmac`,
/// `cmac-cdec-rmac-renc`) or the EXTERNAL AUTHENTICATE P1 in hex (`01`, `03`, `11`, `13`, `33`).
pub fn parse_level(s: &str) -> Result<LevelChoice, String> {
    let level = match s.to_ascii_lowercase().trim_start_matches("0x") {
        "auto" => return Ok(LevelChoice::Auto),
        "cmac" | "01" => SecurityLevel::CMac,
        "cmac-cdec" | "03" => SecurityLevel::CDecCMac,
        "cmac-rmac" | "11" => SecurityLevel::CMacRMac,
        "cmac-cdec-rmac" | "13" => SecurityLevel::CDecCMacRMac,
        "cmac-cdec-rmac-renc" | "33" => SecurityLevel::CDecREncCMacRMac,
        _ => {
            return Err(format!(
                "{s:?} is not a security level: use auto, cmac (01), cmac-cdec (03), cmac-rmac \
                 (11), cmac-cdec-rmac (13) or cmac-cdec-rmac-renc (33)"
            ))
        }
    };
    Ok(LevelChoice::Exactly(level))
}

/// SCP03 key options.
///
/// Precedence: `--key-enc/--key-mac[/--key-dek]` or `--key [--kdf]` (or their environment
/// variables), then `--keyset NAME`, then the keystore entry with the card's EID.
#[derive(clap::Args, Clone, Default)]
pub struct KeyArgs {
    /// Key Version Number for INITIALIZE UPDATE, one byte in hex as GlobalPlatform writes it
    /// (30, or 0x30); 00 = the card's first key set. Default: the keyset's, or 00.
    #[arg(long, value_name = "HEX", value_parser = parse_kvn, env = "SMSR_KVN")]
    pub kvn: Option<u8>,
    /// The card's Key-ENC (hex, 16, 24 or 32 bytes).
    #[arg(long, value_name = "HEX", value_parser = parse_secret, env = "SMSR_KEY_ENC", hide_env_values = true)]
    pub key_enc: Option<SecretHex>,
    /// The card's Key-MAC (hex, same length as Key-ENC).
    #[arg(long, value_name = "HEX", value_parser = parse_secret, env = "SMSR_KEY_MAC", hide_env_values = true)]
    pub key_mac: Option<SecretHex>,
    /// The card's Key-DEK (hex, same length; needed only to load keys with PUT KEY).
    #[arg(long, value_name = "HEX", value_parser = parse_secret, env = "SMSR_KEY_DEK", hide_env_values = true)]
    pub key_dek: Option<SecretHex>,
    /// A master key (hex) for Key-ENC, Key-MAC and Key-DEK, diversified with --kdf.
    #[arg(long, value_name = "HEX", value_parser = parse_secret, env = "SMSR_KEY", hide_env_values = true)]
    pub key: Option<SecretHex>,
    /// Diversification of --key with the card's KDD: none (default), emv, visa2, kdf3.
    #[arg(long, value_name = "TEMPLATE", value_parser = parse_kdf, env = "SMSR_KDF")]
    pub kdf: Option<Diversification>,
    /// Keyset name in the keystore.
    #[arg(long, value_name = "NAME", env = "SMSR_KEYSET")]
    pub keyset: Option<String>,
    /// Keystore file (JSON). Default: $XDG_CONFIG_HOME/smsr/keys.json or
    /// ~/.config/smsr/keys.json, when it exists.
    #[arg(long, value_name = "FILE", env = KEYSTORE_ENV)]
    pub keystore: Option<PathBuf>,
    /// Secure channel security level: auto (the highest the card offers), cmac, cmac-cdec,
    /// cmac-rmac, cmac-cdec-rmac, cmac-cdec-rmac-renc, or hex 01/03/11/13/33.
    #[arg(long, value_name = "LEVEL", value_parser = parse_level, default_value = "auto", env = "SMSR_LEVEL")]
    pub level: LevelChoice,
    /// SCP03 S16 mode (16-byte challenges, cryptograms and MACs; Amendment D v1.2).
    #[arg(long, env = "SMSR_S16")]
    pub s16: bool,
}

impl fmt::Debug for KeyArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let given = |s: &Option<SecretHex>| if s.is_some() { "REDACTED" } else { "-" };
        f.debug_struct("KeyArgs")
            .field("kvn", &self.kvn)
            .field("key_enc", &given(&self.key_enc))
            .field("key_mac", &given(&self.key_mac))
            .field("key_dek", &given(&self.key_dek))
            .field("key", &given(&self.key))
            .field("kdf", &self.kdf)
            .field("keyset", &self.keyset)
            .field("keystore", &self.keystore)
            .field("level", &self.level)
            .field("s16", &self.s16)
            .finish()
    }
}

impl KeyArgs {
    /// S8 or S16.
    pub fn mode(&self) -> ScpMode {
        if self.s16 {
            ScpMode::S16
        } else {
            ScpMode::S8
        }
    }

    /// Finds the keys for the card with this EID (its 16 bytes, when known). Warnings (a
    /// keystore others can read, an ambiguous EID) are returned for the caller to print.
    pub fn resolve(&self, eid: Option<&[u8]>) -> Result<(ResolvedKeys, Vec<Warning>), KeyError> {
        if let Some(keys) = self.command_line_keys()? {
            return Ok((keys, Vec::new()));
        }
        if let Some(name) = &self.keyset {
            let path = match self.keystore.clone().or_else(default_keystore_path) {
                Some(p) if self.keystore.is_some() || p.exists() => p,
                other => {
                    return Err(KeyError::NoKeystore {
                        name: name.clone(),
                        path: other,
                    })
                }
            };
            let (store, warnings) = Keystore::load(&path)?;
            let keyset = store.by_name(name)?;
            let source = KeySource::Keyset {
                file: path.clone(),
                name: keyset.name.clone(),
            };
            let keys = self.finish(keyset.resolve(source), &path, &keyset.name)?;
            return Ok((keys, warnings));
        }
        let path = match &self.keystore {
            Some(p) => Some(p.clone()),
            None => default_keystore_path().filter(|p| p.exists()),
        };
        let (Some(path), Some(eid)) = (path.clone(), eid) else {
            return Err(KeyError::NoKeys {
                eid: eid.map(eid_string),
                searched: path.filter(|_| eid.is_some()),
            });
        };
        let (store, mut warnings) = Keystore::load(&path)?;
        let found = store.by_eid(eid, self.kvn);
        let Some((first, others)) = found.split_first() else {
            return Err(KeyError::NoKeys {
                eid: Some(eid_string(eid)),
                searched: Some(path),
            });
        };
        if !others.is_empty() {
            warnings.push(Warning::SeveralKeysetsForEid {
                path: path.clone(),
                eid: eid_string(eid),
                chosen: first.name.clone(),
                others: others.iter().map(|k| k.name.clone()).collect(),
            });
        }
        let source = KeySource::Eid {
            file: path.clone(),
            name: first.name.clone(),
        };
        let keys = self.finish(first.resolve(source), &path, &first.name)?;
        Ok((keys, warnings))
    }

    fn finish(
        &self,
        keys: Result<ResolvedKeys, String>,
        path: &std::path::Path,
        name: &str,
    ) -> Result<ResolvedKeys, KeyError> {
        let keys = keys.map_err(|problem| KeyError::InvalidKeyset {
            path: path.to_path_buf(),
            keyset: format!("{name:?}"),
            problem,
        })?;
        Ok(match self.kvn {
            Some(kvn) => keys.with_kvn(kvn),
            None => keys,
        })
    }

    /// Keys given with `--key*` (or `SMSR_KEY*`), if any.
    fn command_line_keys(&self) -> Result<Option<ResolvedKeys>, KeyError> {
        let kvn = self.kvn.unwrap_or(0);
        let bad = |option: &'static str, problem: String| KeyError::BadOption { option, problem };
        let key = |option: &'static str, s: &SecretHex| {
            aes_key("key", decode_hex(&s.0)).map_err(|p| bad(option, p.replacen("\"key\" ", "", 1)))
        };
        let material = match (&self.key, &self.key_enc, &self.key_mac, &self.key_dek) {
            (None, None, None, None) => {
                if self.kdf.is_some() {
                    return Err(bad(
                        "--kdf",
                        "applies to a master key given with --key (or SMSR_KEY); a keystore \
                         keyset brings its own \"kdf\": drop --kdf (or SMSR_KDF)"
                            .into(),
                    ));
                }
                return Ok(None);
            }
            (Some(master), None, None, None) => KeyMaterial::Master {
                master: key("--key", master)?,
                kdf: self.kdf.unwrap_or_default(),
            },
            (Some(_), _, _, _) => {
                return Err(bad(
                    "--key",
                    "give either a master key (--key, with --kdf) or the card's keys \
                     (--key-enc, --key-mac, --key-dek), not both"
                        .into(),
                ))
            }
            (None, Some(enc), Some(mac), dek) => {
                if self.kdf.is_some() {
                    return Err(bad(
                        "--kdf",
                        "applies to a master key given with --key, not to --key-enc/--key-mac/--key-dek \
                         (the card's own keys)"
                            .into(),
                    ));
                }
                KeyMaterial::Static {
                    enc: key("--key-enc", enc)?,
                    mac: key("--key-mac", mac)?,
                    dek: dek.as_ref().map(|d| key("--key-dek", d)).transpose()?,
                }
            }
            (None, None, _, _) => return Err(bad(
                "--key-enc",
                "missing: the card's keys need --key-enc and --key-mac (and --key-dek for PUT KEY)"
                    .into(),
            )),
            (None, Some(_), None, _) => return Err(bad(
                "--key-mac",
                "missing: the card's keys need --key-enc and --key-mac (and --key-dek for PUT KEY)"
                    .into(),
            )),
        };
        ResolvedKeys::new(kvn, material, KeySource::CommandLine)
            .map(Some)
            .map_err(|p| bad("--key-enc/--key-mac/--key-dek/--key", p))
    }
}

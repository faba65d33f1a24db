//! The administration session triggering parameters (GP Amd B §3.8, Table 3-3): the secured
//! data of the SCP80 push SMS sent to the ISD-R's TAR to make it open an SCP81 session.
//!
//! ```text
//! 81 L                              administration session triggering parameters
//!   83 L                            admin session parameters
//!     84 L <CAT TLVs>               connection parameters (BIP OPEN CHANNEL TLVs)
//!     85 L <LV identity> 02 KVN KID [hash type]   security parameters
//!     A5 L …                        extended security parameters   (skipped)
//!     86 L <retry policy>           retry counter(2) + waiting delay(5) [+ report failure]
//!     89 L                          HTTP POST parameters
//!       8A L <admin host>           -> Host
//!       8B L <agent id>             -> X-Admin-From
//!       8C L <admin URI>            -> first request target
//!   B3 L …                          DNS resolution parameters       (skipped)
//! ```
//!
//! `81 00` alone asks the security domain to use the parameters it stores. Tag list and layout
//! from pySim `pySim/global_platform/http.py` (GP Amd B Table 3-3 / §3.8.x as pySim cites them)
//! and njiwa `makeRAMHttpPushCommand`, summarised in `shared/protocol/SCP81-BIP.md` §2.6
//! `[impl]`. Lengths are strict BER ([`crate::tlv`]); this module writes the `81`/`82` long
//! forms and nothing longer.

use super::Scp81Error;
use crate::tlv::{self, Tag, Tlv};

/// Tag of the administration session triggering parameters (GP Amd B Table 3-3).
pub const TAG_TRIGGER: u8 = 0x81;
const TAG_SESSION: u8 = 0x83;
const TAG_CONNECTION: u8 = 0x84;
const TAG_SECURITY: u8 = 0x85;
const TAG_RETRY: u8 = 0x86;
const TAG_HTTP_POST: u8 = 0x89;
const TAG_ADMIN_HOST: u8 = 0x8A;
const TAG_AGENT_ID: u8 = 0x8B;
const TAG_ADMIN_URI: u8 = 0x8C;

/// The length byte of the key identification LV inside `85`: KVN and KID, two bytes (pySim
/// codes it as the constant `2`; njiwa builds `{2, KVN, KID}` citing Amd B §3.7.3) `[impl]`.
const KEY_IDENTIFICATION_LEN: u8 = 0x02;

/// The longest value [`AdminTrigger::to_bytes`] writes: the `82 hh ll` length form.
pub const MAX_VALUE_LEN: usize = 0xFFFF;

const WHAT_TRIGGER: &str = "trigger (81)";
const WHAT_SESSION: &str = "admin session parameters (83)";
const WHAT_CONNECTION: &str = "connection parameters (84)";
const WHAT_SECURITY: &str = "security parameters (85)";
const WHAT_RETRY: &str = "retry policy (86)";
const WHAT_HTTP_POST: &str = "HTTP POST parameters (89)";
const WHAT_ADMIN_HOST: &str = "admin host (8A)";
const WHAT_AGENT_ID: &str = "agent id (8B)";
const WHAT_ADMIN_URI: &str = "admin URI (8C)";

/// Administration session triggering parameters, the secured data of the SCP80 push SMS to the
/// ISD-R (GP Amd B §3.8 Table 3-3 as read by pySim and njiwa, `SCP81-BIP.md` §2.6 `[impl]`).
///
/// All fields `None` is the `81 00` form: "use the parameters stored in the security domain".
/// Tags the struct does not hold (`A5` extended security, `B3` DNS resolution, unknown ones)
/// are skipped when parsing and never written.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct AdminTrigger {
    /// Value of `84`: the BIP OPEN CHANNEL TLVs (CAT COMPREHENSION-TLVs, kept raw).
    pub connection: Option<Vec<u8>>,
    /// From `85`: PSK identity, KVN and KID of the SCP81 key set.
    pub security: Option<TriggerSecurity>,
    /// Value of `86` (retry policy), raw: counter (2 bytes) + waiting delay (5 bytes) +
    /// optional report-failure data. The timer coding is not settled (`SCP81-BIP.md` §6).
    pub retry: Option<Vec<u8>>,
    /// `8A`: the admin host, sent as the `Host` header.
    pub admin_host: Option<String>,
    /// `8B`: the agent id, sent as `X-Admin-From`.
    pub agent_id: Option<String>,
    /// `8C`: the admin URI, the request target of the first POST.
    pub admin_uri: Option<String>,
}

/// The security parameters of a trigger (value of `85`).
///
/// Layout: `<identity length> <identity> 02 <KVN> <KID> [<hash type>]`. Our reading of the pySim
/// vector `85 08 04 DEADBEEF 02 00 40`: `04` is the identity's length, `02` the length of the
/// key identification that follows (always two bytes: KVN then KID), so KVN `00`, KID `40`.
/// pySim decodes it so (`kvn: 0, kid: 64`) and njiwa writes the same `{2, KVN, KID}`; a live
/// UICC's stored copy read back `02 40 01` = KVN `40` (the SGP.02 SCP81 range), KID `01`
/// `[impl][trace]`. The optional trailing hash-type byte (pySim `sha_type`) is accepted and
/// dropped when parsing and never written: no source says what its values mean.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerSecurity {
    /// The PSK identity the card presents in the TLS handshake (bytes of the LV).
    pub psk_identity: Vec<u8>,
    /// Key version number of the SCP81 key set.
    pub kvn: u8,
    /// Key identifier of the PSK within the key set.
    pub kid: u8,
}

impl TriggerSecurity {
    /// The value of the `85` TLV.
    pub fn to_value(&self) -> Result<Vec<u8>, Scp81Error> {
        let len = u8::try_from(self.psk_identity.len()).map_err(|_| Scp81Error::TooLong {
            field: "security parameters (85) PSK identity",
            len: self.psk_identity.len(),
            max: usize::from(u8::MAX),
        })?;
        let mut out = Vec::with_capacity(self.psk_identity.len() + 4);
        out.push(len);
        out.extend_from_slice(&self.psk_identity);
        out.extend_from_slice(&[KEY_IDENTIFICATION_LEN, self.kvn, self.kid]);
        Ok(out)
    }

    /// Reads the value of an `85` TLV.
    pub fn parse_value(value: &[u8]) -> Result<Self, Scp81Error> {
        let (&len, rest) = value.split_first().ok_or(Scp81Error::Invalid {
            field: WHAT_SECURITY,
            fault: "empty: the PSK identity length byte is missing",
        })?;
        let (identity, rest) =
            rest.split_at_checked(usize::from(len))
                .ok_or(Scp81Error::Invalid {
                    field: WHAT_SECURITY,
                    fault: "the PSK identity runs past the end",
                })?;
        let (kvn, kid) = match rest {
            [KEY_IDENTIFICATION_LEN, kvn, kid] | [KEY_IDENTIFICATION_LEN, kvn, kid, _] => {
                (*kvn, *kid)
            }
            [] => {
                return Err(Scp81Error::Invalid {
                    field: WHAT_SECURITY,
                    fault: "the key identification (02 KVN KID) is missing",
                })
            }
            [KEY_IDENTIFICATION_LEN, ..] if rest.len() < 3 => {
                return Err(Scp81Error::Invalid {
                    field: WHAT_SECURITY,
                    fault: "the key identification (02 KVN KID) runs past the end",
                })
            }
            [KEY_IDENTIFICATION_LEN, ..] => {
                return Err(Scp81Error::Invalid {
                    field: WHAT_SECURITY,
                    fault: "bytes after the key identification and hash type",
                })
            }
            _ => {
                return Err(Scp81Error::Invalid {
                    field: WHAT_SECURITY,
                    fault: "the key identification length is not 02 (KVN, KID)",
                })
            }
        };
        Ok(Self {
            psk_identity: identity.to_vec(),
            kvn,
            kid,
        })
    }
}

impl AdminTrigger {
    /// `81 L { 83 L { [84] [85] [86] [89 L { [8A] [8B] [8C] }] } }`; with every field `None`,
    /// `81 00`. An empty `89` is not written. Errors: a value over [`MAX_VALUE_LEN`] bytes, a PSK
    /// identity over 255 bytes, a string with a control character (it would end up in an HTTP
    /// header or request line).
    pub fn to_bytes(&self) -> Result<Vec<u8>, Scp81Error> {
        let mut http = Vec::new();
        for (tag, field, text) in [
            (TAG_ADMIN_HOST, WHAT_ADMIN_HOST, &self.admin_host),
            (TAG_AGENT_ID, WHAT_AGENT_ID, &self.agent_id),
            (TAG_ADMIN_URI, WHAT_ADMIN_URI, &self.admin_uri),
        ] {
            if let Some(text) = text {
                check_text(field, text)?;
                put(&mut http, tag, text.as_bytes(), field)?;
            }
        }
        let mut session = Vec::new();
        if let Some(c) = &self.connection {
            put(&mut session, TAG_CONNECTION, c, WHAT_CONNECTION)?;
        }
        if let Some(s) = &self.security {
            put(&mut session, TAG_SECURITY, &s.to_value()?, WHAT_SECURITY)?;
        }
        if let Some(r) = &self.retry {
            put(&mut session, TAG_RETRY, r, WHAT_RETRY)?;
        }
        if !http.is_empty() {
            put(&mut session, TAG_HTTP_POST, &http, WHAT_HTTP_POST)?;
        }
        let mut inner = Vec::new();
        if !session.is_empty() {
            put(&mut inner, TAG_SESSION, &session, WHAT_SESSION)?;
        }
        let mut out = Vec::new();
        put(&mut out, TAG_TRIGGER, &inner, WHAT_TRIGGER)?;
        Ok(out)
    }

    /// Reads a trigger. Strict: exactly one `81` TLV with no bytes after it, well-formed BER
    /// throughout, `83`, `84`, `85`, `86`, `89`, `8A`, `8B`, `8C` at most once each; other tags
    /// (`A5`, `B3`, unknown ones) are skipped. `81 00` gives [`AdminTrigger::default`].
    pub fn parse(bytes: &[u8]) -> Result<Self, Scp81Error> {
        let outer = Tlv::parse(bytes).map_err(|source| Scp81Error::Tlv {
            what: WHAT_TRIGGER,
            source,
        })?;
        if outer.tag != Tag::from(TAG_TRIGGER) {
            return Err(Scp81Error::UnexpectedTag {
                what: "administration session triggering parameters",
                expected: Tag::from(TAG_TRIGGER),
                found: outer.tag,
            });
        }
        let mut out = Self::default();
        let mut session = None;
        for child in children(&outer, WHAT_TRIGGER)? {
            if child.tag == Tag::from(TAG_SESSION) {
                set_once(&mut session, child, WHAT_TRIGGER, TAG_SESSION)?;
            }
        }
        let Some(session) = session else {
            return Ok(out);
        };
        let mut http = None;
        let mut security = None;
        for child in children(&session, WHAT_SESSION)? {
            match u8::try_from(child.tag.value()) {
                Ok(TAG_CONNECTION) => {
                    set_once(
                        &mut out.connection,
                        child.value,
                        WHAT_SESSION,
                        TAG_CONNECTION,
                    )?;
                }
                Ok(TAG_SECURITY) => {
                    set_once(&mut security, child.value, WHAT_SESSION, TAG_SECURITY)?;
                }
                Ok(TAG_RETRY) => set_once(&mut out.retry, child.value, WHAT_SESSION, TAG_RETRY)?,
                Ok(TAG_HTTP_POST) => set_once(&mut http, child, WHAT_SESSION, TAG_HTTP_POST)?,
                _ => {}
            }
        }
        out.security = security
            .map(|v| TriggerSecurity::parse_value(&v))
            .transpose()?;
        if let Some(http) = http {
            for child in children(&http, WHAT_HTTP_POST)? {
                let (slot, field, tag) = match u8::try_from(child.tag.value()) {
                    Ok(TAG_ADMIN_HOST) => (&mut out.admin_host, WHAT_ADMIN_HOST, TAG_ADMIN_HOST),
                    Ok(TAG_AGENT_ID) => (&mut out.agent_id, WHAT_AGENT_ID, TAG_AGENT_ID),
                    Ok(TAG_ADMIN_URI) => (&mut out.admin_uri, WHAT_ADMIN_URI, TAG_ADMIN_URI),
                    _ => continue,
                };
                let text =
                    String::from_utf8(child.value).map_err(|_| Scp81Error::NotUtf8 { field })?;
                check_text(field, &text)?;
                set_once(slot, text, WHAT_HTTP_POST, tag)?;
            }
        }
        Ok(out)
    }

    /// Whether this is the `81 00` form: no parameter given, the security domain uses the ones
    /// it stores (GP Amd B as pySim's `scp81_trigger.py` notes it, `SCP81-BIP.md` §2.6 `[impl]`).
    pub fn uses_stored_defaults(&self) -> bool {
        *self == Self::default()
    }
}

fn children(tlv: &Tlv, what: &'static str) -> Result<Vec<Tlv>, Scp81Error> {
    tlv.children()
        .map_err(|source| Scp81Error::Tlv { what, source })
}

fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    within: &'static str,
    tag: u8,
) -> Result<(), Scp81Error> {
    if slot.is_some() {
        return Err(Scp81Error::DuplicateTag {
            within,
            tag: Tag::from(tag),
        });
    }
    *slot = Some(value);
    Ok(())
}

fn put(out: &mut Vec<u8>, tag: u8, value: &[u8], field: &'static str) -> Result<(), Scp81Error> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Scp81Error::TooLong {
            field,
            len: value.len(),
            max: MAX_VALUE_LEN,
        });
    }
    out.extend_from_slice(&tlv::tlv(tag, value));
    Ok(())
}

/// The trigger's strings become an HTTP header value or request target: no control characters.
fn check_text(field: &'static str, text: &str) -> Result<(), Scp81Error> {
    if text.chars().any(char::is_control) {
        return Err(Scp81Error::Invalid {
            field,
            fault: "contains a control character (it would go into an HTTP header line)",
        });
    }
    Ok(())
}

//! GP Amd B requests (admin agent → admin server) and responses (server → agent).
//!
//! The card POSTs to the admin URI (trigger `8C`, then each `X-Admin-Next-URI`), the first time
//! with an empty body, later with the response script of the previous command script. The
//! server answers `200 OK` with a command script, or `204 No Content` to end the session.
//! Header list from GP Amd B as quoted in public code and the two public SGP.02 servers
//! (njiwa, whty), `SCP81-BIP.md` §2.1–2.5 and `SGP02.md` §6.2 `[impl][trace]`.
//!
//! Writing: header values lose CR, LF and other control characters (each becomes a space, as
//! RFC 9110 §5.5 lets a recipient do), and a request target gets every byte outside
//! `21`–`7E` percent-encoded, so no value can break the message framing. An empty request
//! target is written `/`.

use super::address::{parse_targeted_application, targeted_application};
use super::message::HttpMessage;
use super::{excerpt, Scp81Error};
use crate::gp::Aid;

/// `X-Admin-Protocol` of GP Amd B v1.x as SGP.02 uses it (`SCP81-BIP.md` §2.2 `[impl]`).
pub const ADMIN_PROTOCOL: &str = "globalplatform-remote-admin/1.0";
/// `Content-Type` of a command script from the admin server (GP Amd B; `SGP02.md` §6.2 `[impl]`).
pub const CONTENT_TYPE_COMMANDS: &str =
    "application/vnd.globalplatform.card-content-mgt;version=1.0";
/// `Content-Type` of a response script from the admin agent (GP Amd B; `SGP02.md` §6.2 `[impl]`).
pub const CONTENT_TYPE_RESPONSES: &str =
    "application/vnd.globalplatform.card-content-mgt-response;version=1.0";

const X_ADMIN_PROTOCOL: &str = "X-Admin-Protocol";
const X_ADMIN_FROM: &str = "X-Admin-From";
const X_ADMIN_SCRIPT_STATUS: &str = "X-Admin-Script-Status";
const X_ADMIN_RESUME: &str = "X-Admin-Resume";
const X_ADMIN_NEXT_URI: &str = "X-Admin-Next-URI";
const X_ADMIN_TARGETED: &str = "X-Admin-Targeted-Application";

/// `X-Admin-Script-Status`: how the agent ran the previous script (GP Amd B 1.x base values as
/// listed in `SCP81-BIP.md` §2.2 `[impl]`). Only `ok` comes with a response body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptStatus {
    /// `ok`: the script ran; the body is the response script.
    Ok,
    /// `unknown-application`: the targeted application does not exist.
    UnknownApplication,
    /// `not-a-security-domain`: the targeted application is not a security domain.
    NotASecurityDomain,
    /// `security-error`: the script was refused for a security reason.
    SecurityError,
}

impl ScriptStatus {
    /// The header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::UnknownApplication => "unknown-application",
            Self::NotASecurityDomain => "not-a-security-domain",
            Self::SecurityError => "security-error",
        }
    }

    /// Reads a header value (ASCII case ignored, surrounding white space ignored).
    pub fn parse(text: &str) -> Result<Self, Scp81Error> {
        let t = text.trim();
        [
            Self::Ok,
            Self::UnknownApplication,
            Self::NotASecurityDomain,
            Self::SecurityError,
        ]
        .into_iter()
        .find(|s| s.as_str().eq_ignore_ascii_case(t))
        .ok_or_else(|| Scp81Error::BadHeaderValue {
            name: X_ADMIN_SCRIPT_STATUS,
            value: excerpt(text),
            expected: "ok, unknown-application, not-a-security-domain or security-error",
        })
    }
}

/// What the card (admin agent) sends: one POST of GP Amd B (`SCP81-BIP.md` §2.2 `[impl]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRequest {
    /// Request target: the admin URI for the first POST, then the last `X-Admin-Next-URI`,
    /// verbatim.
    pub uri: String,
    /// `Host` (trigger `8A`); empty if the request had none.
    pub host: String,
    /// `X-Admin-From` (trigger `8B`, see [`super::admin_from`]); empty = header absent.
    pub from: String,
    /// `X-Admin-Script-Status`; `None` for the first POST.
    pub script_status: Option<ScriptStatus>,
    /// `X-Admin-Resume: true`: the agent resumes an interrupted session.
    pub resume: bool,
    /// The response script (empty for the first POST and for a status other than `ok`).
    pub body: Vec<u8>,
}

impl AdminRequest {
    /// `POST <uri> HTTP/1.1`, `Host`, `X-Admin-Protocol`, `X-Admin-From` (if not empty),
    /// `Content-Type` (responses content type, when there is a status or a body),
    /// `X-Admin-Script-Status` (if any), `X-Admin-Resume: true` (if resuming) and
    /// `Content-Length` last (njiwa's order), then the body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = format!("POST {} HTTP/1.1\r\n", request_target(&self.uri));
        header(&mut head, "Host", &self.host);
        header(&mut head, X_ADMIN_PROTOCOL, ADMIN_PROTOCOL);
        if !self.from.is_empty() {
            header(&mut head, X_ADMIN_FROM, &self.from);
        }
        if self.script_status.is_some() || !self.body.is_empty() {
            header(&mut head, "Content-Type", CONTENT_TYPE_RESPONSES);
        }
        if let Some(status) = self.script_status {
            header(&mut head, X_ADMIN_SCRIPT_STATUS, status.as_str());
        }
        if self.resume {
            header(&mut head, X_ADMIN_RESUME, "true");
        }
        header(&mut head, "Content-Length", &self.body.len().to_string());
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(&self.body);
        out
    }

    /// Reads a request. Errors: a method other than POST, `X-Admin-Protocol` missing or not
    /// [`ADMIN_PROTOCOL`], an unknown script status, an `X-Admin-Resume` other than
    /// `true`/`false`. `Content-Type` is not checked (ETSI RFM mode uses another one).
    pub fn from_message(m: &HttpMessage) -> Result<Self, Scp81Error> {
        let (method, target, _) = &m.start_line;
        if method != "POST" {
            return Err(Scp81Error::NotPost {
                method: excerpt(method),
            });
        }
        check_protocol(m, true)?;
        let script_status = m
            .header(X_ADMIN_SCRIPT_STATUS)
            .map(ScriptStatus::parse)
            .transpose()?;
        let resume = match m.header(X_ADMIN_RESUME).map(str::trim) {
            None => false,
            Some(v) if v.eq_ignore_ascii_case("true") => true,
            Some(v) if v.eq_ignore_ascii_case("false") => false,
            Some(v) => {
                return Err(Scp81Error::BadHeaderValue {
                    name: X_ADMIN_RESUME,
                    value: excerpt(v),
                    expected: "true or false",
                })
            }
        };
        Ok(Self {
            uri: target.clone(),
            host: m.header("Host").unwrap_or_default().to_owned(),
            from: m.header(X_ADMIN_FROM).unwrap_or_default().to_owned(),
            script_status,
            resume,
            body: m.body.clone(),
        })
    }
}

/// What the server (SM-SR) answers (`SCP81-BIP.md` §2.3 `[impl][trace]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdminResponse {
    /// `200 OK` with a command script. `next_uri` is where the agent POSTs the results; an
    /// empty `next_uri` means no `X-Admin-Next-URI` header: the agent runs the script and the
    /// session ends without a result POST (GP Amd B as `SCP81-BIP.md` §2.1 reads it, seen on a
    /// live UICC `[impl][trace]`). `targeted` is the security domain the script is for when it is
    /// not the one holding the PSK key set.
    Script {
        next_uri: String,
        targeted: Option<Aid>,
        body: Vec<u8>,
    },
    /// `204 No Content`: the session ends.
    End,
}

impl AdminResponse {
    /// `200`: `X-Admin-Protocol`, `X-Admin-Next-URI` (unless empty),
    /// `X-Admin-Targeted-Application` (if any), the commands `Content-Type` and
    /// `Transfer-Encoding: chunked` with the body as one chunk and the last chunk (the framing
    /// njiwa uses, citing SGP.02 v4.1 §2.4.4.2 `[impl]`; hex chunk size in upper case). An empty
    /// body is the last chunk alone. `204`: `X-Admin-Protocol` only.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Script {
                next_uri,
                targeted,
                body,
            } => {
                let mut head = String::from("HTTP/1.1 200 OK\r\n");
                header(&mut head, X_ADMIN_PROTOCOL, ADMIN_PROTOCOL);
                if !next_uri.is_empty() {
                    header(&mut head, X_ADMIN_NEXT_URI, next_uri);
                }
                if let Some(aid) = targeted {
                    header(&mut head, X_ADMIN_TARGETED, &targeted_application(aid));
                }
                header(&mut head, "Content-Type", CONTENT_TYPE_COMMANDS);
                header(&mut head, "Transfer-Encoding", "chunked");
                head.push_str("\r\n");
                if !body.is_empty() {
                    head.push_str(&format!("{:X}\r\n", body.len()));
                }
                let mut out = head.into_bytes();
                if !body.is_empty() {
                    out.extend_from_slice(body);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
                out
            }
            Self::End => {
                let mut head = String::from("HTTP/1.1 204 No Content\r\n");
                header(&mut head, X_ADMIN_PROTOCOL, ADMIN_PROTOCOL);
                head.push_str("\r\n");
                head.into_bytes()
            }
        }
    }

    /// Reads a response. `200` needs `X-Admin-Protocol` = [`ADMIN_PROTOCOL`]; no
    /// `X-Admin-Next-URI` gives an empty `next_uri` (see [`AdminResponse::Script`]). `204` is
    /// [`AdminResponse::End`]; its `X-Admin-Protocol` may be absent (the session ends anyway) but
    /// not wrong. Any other status is an error naming it.
    pub fn from_message(m: &HttpMessage) -> Result<Self, Scp81Error> {
        let code = m.status().ok_or_else(|| Scp81Error::NotAResponse {
            line: excerpt(&format!(
                "{} {} {}",
                m.start_line.0, m.start_line.1, m.start_line.2
            )),
        })?;
        match code {
            200 => {
                check_protocol(m, true)?;
                Ok(Self::Script {
                    next_uri: m.header(X_ADMIN_NEXT_URI).unwrap_or_default().to_owned(),
                    targeted: m
                        .header(X_ADMIN_TARGETED)
                        .map(parse_targeted_application)
                        .transpose()?,
                    body: m.body.clone(),
                })
            }
            204 => {
                check_protocol(m, false)?;
                Ok(Self::End)
            }
            _ => Err(Scp81Error::UnexpectedStatus {
                code,
                reason: excerpt(&m.start_line.2),
            }),
        }
    }
}

fn check_protocol(m: &HttpMessage, required: bool) -> Result<(), Scp81Error> {
    match m.header(X_ADMIN_PROTOCOL) {
        None if required => Err(Scp81Error::MissingHeader {
            name: X_ADMIN_PROTOCOL,
        }),
        None => Ok(()),
        Some(v) if v == ADMIN_PROTOCOL => Ok(()),
        Some(v) => Err(Scp81Error::BadHeaderValue {
            name: X_ADMIN_PROTOCOL,
            value: excerpt(v),
            expected: ADMIN_PROTOCOL,
        }),
    }
}

/// Appends `name: value` CRLF, with control characters in the value turned into spaces.
fn header(head: &mut String, name: &str, value: &str) {
    head.push_str(name);
    head.push_str(": ");
    head.extend(
        value
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c }),
    );
    head.push_str("\r\n");
}

/// The request target with every byte outside `21`–`7E` percent-encoded; `/` if empty.
fn request_target(uri: &str) -> String {
    if uri.is_empty() {
        return "/".to_owned();
    }
    let mut out = String::with_capacity(uri.len());
    for &b in uri.as_bytes() {
        if (0x21..=0x7E).contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

//! HTTP/1.1 messages (RFC 9112) and the parsing of their start line and header fields, as
//! [`super::MessageReader`] needs them.
//!
//! Rules: CRLF line endings, bare LF accepted; header names are tokens, case-insensitive;
//! obsolete line folding, bare CR, NUL and non-UTF-8 text are rejected; values lose their
//! surrounding spaces and tabs; HTTP/1.x only.

use super::{excerpt, excerpt_bytes, Scp81Error};

/// One HTTP/1.1 request or response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpMessage {
    /// Request: (method, target, version). Response: (version, status code, reason).
    pub start_line: (String, String, String),
    /// Header fields in order, names as sent, values without surrounding white space.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl HttpMessage {
    /// The value of the first header called `name` (ASCII case ignored).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The status code of a response; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        let (version, code, _) = &self.start_line;
        if !version.starts_with("HTTP/") || code.len() != 3 {
            return None;
        }
        if !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        code.parse().ok()
    }

    /// The values of every header called `name` (ASCII case ignored), in order.
    pub(super) fn headers_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Which kind of message is being read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Request,
    Response,
}

impl Kind {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::Response => "response",
        }
    }
}

/// The start line and header fields of a complete header block (the blank line included).
pub(super) fn parse_head(kind: Kind, block: &[u8]) -> Result<HttpMessage, Scp81Error> {
    let mut lines = block
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let what = match kind {
        Kind::Request => "request line",
        Kind::Response => "status line",
    };
    let first = lines.next().unwrap_or_default();
    let start_line = std::str::from_utf8(first)
        .ok()
        .filter(|l| !l.contains(['\r', '\0']))
        .ok_or_else(|| Scp81Error::BadStartLine {
            what,
            fault: "not text (non-UTF-8, CR or NUL)",
            line: excerpt_bytes(first),
        })?;
    let start_line = match kind {
        Kind::Request => request_line(start_line)?,
        Kind::Response => status_line(start_line)?,
    };
    let mut headers = Vec::new();
    for line in lines {
        if line.is_empty() {
            break;
        }
        headers.push(header_line(line)?);
    }
    Ok(HttpMessage {
        start_line,
        headers,
        body: Vec::new(),
    })
}

fn request_line(line: &str) -> Result<(String, String, String), Scp81Error> {
    let bad = |fault| Scp81Error::BadStartLine {
        what: "request line",
        fault,
        line: excerpt(line),
    };
    let parts: Vec<&str> = line.split(' ').collect();
    let [method, target, version] = parts.as_slice() else {
        return Err(bad("not `method SP target SP version`"));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(bad("method is not a token"));
    }
    if target.is_empty() || target.chars().any(char::is_control) {
        return Err(bad("empty or bad request target"));
    }
    if !is_http1(version) {
        return Err(bad("version is not HTTP/1.x"));
    }
    Ok((
        (*method).to_owned(),
        (*target).to_owned(),
        (*version).to_owned(),
    ))
}

fn status_line(line: &str) -> Result<(String, String, String), Scp81Error> {
    let bad = |fault| Scp81Error::BadStartLine {
        what: "status line",
        fault,
        line: excerpt(line),
    };
    let (version, rest) = line.split_once(' ').ok_or_else(|| bad("no status code"))?;
    if !is_http1(version) {
        return Err(bad("version is not HTTP/1.x"));
    }
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("status code is not three digits"));
    }
    if reason.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("control character in the reason phrase"));
    }
    Ok((version.to_owned(), code.to_owned(), reason.to_owned()))
}

fn header_line(line: &[u8]) -> Result<(String, String), Scp81Error> {
    let bad = |fault| Scp81Error::BadHeader {
        fault,
        line: excerpt_bytes(line),
    };
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return Err(bad("obsolete line folding"));
    }
    let text = std::str::from_utf8(line).map_err(|_| bad("not UTF-8"))?;
    let (name, value) = text.split_once(':').ok_or_else(|| bad("no colon"))?;
    if name.is_empty() || !name.bytes().all(is_token_byte) {
        return Err(bad("field name is not a token"));
    }
    let value = value.trim_matches([' ', '\t']);
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("control character in the value"));
    }
    Ok((name.to_owned(), value.to_owned()))
}

fn is_http1(version: &str) -> bool {
    match version.strip_prefix("HTTP/1.") {
        Some(minor) => minor.len() == 1 && minor.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// RFC 9110 §5.6.2 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

//! Our JSON binding of the SGP.02 off-card functions (SGP.02 defines only SOAP, Annex B): the
//! envelope SGP.22 ES2+ uses, with the SGP.02 function and field names in camelCase.
//!
//! Request: `{"header": {"functionRequesterIdentifier", "functionCallIdentifier",
//! "validityPeriod"?, "replyTo"?}, …fields}`. Answer: `{"header": {"functionRequesterIdentifier",
//! "functionCallIdentifier", "functionExecutionStatus": {"status", "statusCodeData"?}}, …fields}`
//! with `status` one of `Executed-Success`, `Executed-WithWarning`, `Failed`, `Expired`, and
//! `statusCodeData` (`subjectCode`, `reasonCode`, `subjectIdentifier`?, `message`) unless
//! success. The subject and reason codes are SGP.02's (§5.1.6.4 tables); the ones used are the
//! constants below, in one place.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The `X-Admin-Protocol` value every answer carries: this binding, not a GSMA one.
pub const ADMIN_PROTOCOL: &str = "smsr/sgp02-json/1";

/// Subject codes (SGP.02 §5.1.6.4 "Subject Code").
pub mod subject {
    /// The function requester.
    pub const FUNCTION_REQUESTER: &str = "1.1";
    /// The function provider (this service).
    pub const FUNCTION_PROVIDER: &str = "1.2";
    /// The eUICC, by its EID.
    pub const EID: &str = "8.1.1";
    /// The profile, by its ICCID.
    pub const ICCID: &str = "8.2.1";
    /// The ISD-P, by its AID.
    pub const ISD_P: &str = "8.3.1";
    /// The SM-SR.
    pub const SM_SR: &str = "8.7";
}

/// Reason codes (SGP.02 §5.1.6.4 "Reason Code").
pub mod reason {
    /// Unauthorized requester.
    pub const UNAUTHORIZED: &str = "1.1";
    /// Function not allowed.
    pub const NOT_ALLOWED: &str = "1.2";
    /// Invalid input.
    pub const INVALID: &str = "2.1";
    /// Mandatory element missing.
    pub const MISSING: &str = "2.2";
    /// Already in use.
    pub const ALREADY_IN_USE: &str = "3.3";
    /// Unavailable.
    pub const UNAVAILABLE: &str = "3.7";
    /// Refused.
    pub const REFUSED: &str = "3.8";
    /// Unknown.
    pub const UNKNOWN: &str = "3.9";
    /// Execution error.
    pub const EXECUTION_ERROR: &str = "4.2";
    /// Time to live expired.
    pub const EXPIRED: &str = "4.10";
    /// Transport: the card (or a peer service) could not be reached.
    pub const TRANSPORT: &str = "5.1";
    /// Verification failed (a cryptographic check).
    pub const VERIFICATION_FAILED: &str = "6.1";
}

/// The request header.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RequestHeader {
    pub function_requester_identifier: String,
    pub function_call_identifier: String,
    /// Seconds the requester waits for the result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validity_period: Option<u64>,
    /// Where the result of a long function is POSTed (`{replyTo}/{Function}Response`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
}

/// `functionExecutionStatus.status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "Executed-Success")]
    ExecutedSuccess,
    #[serde(rename = "Executed-WithWarning")]
    ExecutedWithWarning,
    #[serde(rename = "Failed")]
    Failed,
    #[serde(rename = "Expired")]
    Expired,
}

/// Why a function failed: SGP.02 subject and reason codes, a message naming the cause and the
/// fix, and the HTTP status of the answer (200 for a function that ran and failed, 403 for a
/// requester without the right, 400 for a request that cannot be read).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (subject {subject}, reason {reason})")]
pub struct FunctionError {
    pub subject: String,
    pub reason: String,
    pub subject_identifier: Option<String>,
    pub message: String,
    pub http: u16,
}

impl FunctionError {
    pub fn new(subject: &str, reason: &str, message: impl Into<String>) -> Self {
        Self {
            subject: subject.to_owned(),
            reason: reason.to_owned(),
            subject_identifier: None,
            message: message.into(),
            http: 200,
        }
    }

    /// The same, naming the object (an EID, an ICCID).
    pub fn about(mut self, identifier: impl Into<String>) -> Self {
        self.subject_identifier = Some(identifier.into());
        self
    }

    /// The caller may not call this function (HTTP 403, `1.1`/`1.1`).
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            http: 403,
            ..Self::new(subject::FUNCTION_REQUESTER, reason::UNAUTHORIZED, message)
        }
    }

    /// The request cannot be read (HTTP 400, `2.1`).
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            http: 400,
            ..Self::new(subject::FUNCTION_REQUESTER, reason::INVALID, message)
        }
    }

    /// The function ran and could not be done (`1.2`/`4.2`).
    pub fn execution(message: impl Into<String>) -> Self {
        Self::new(subject::FUNCTION_PROVIDER, reason::EXECUTION_ERROR, message)
    }

    /// Unknown EID (`8.1.1`/`3.9`).
    pub fn unknown_eid(eid: &str) -> Self {
        Self::new(
            subject::EID,
            reason::UNKNOWN,
            format!("no eUICC with EID {eid} is registered with this SM-SR (ES1.RegisterEIS)"),
        )
        .about(eid)
    }

    /// The failure an answer reports (`None` for a success).
    pub fn from_answer(answer: &Value) -> Option<Self> {
        let status = status_of(answer)?;
        if matches!(
            status,
            Status::ExecutedSuccess | Status::ExecutedWithWarning
        ) {
            return None;
        }
        let codes = answer.pointer("/header/functionExecutionStatus/statusCodeData");
        let field = |name: &str| {
            codes
                .and_then(|c| c.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Self {
            subject: field("subjectCode").unwrap_or_else(|| subject::FUNCTION_PROVIDER.into()),
            reason: field("reasonCode").unwrap_or_else(|| {
                if status == Status::Expired {
                    reason::EXPIRED.into()
                } else {
                    reason::EXECUTION_ERROR.into()
                }
            }),
            subject_identifier: field("subjectIdentifier"),
            message: field("message").unwrap_or_else(|| format!("{status:?}")),
            http: 200,
        })
    }

    /// The answer's `statusCodeData`.
    pub fn status_code_data(&self) -> Value {
        let mut m = Map::new();
        m.insert("subjectCode".into(), json!(self.subject));
        m.insert("reasonCode".into(), json!(self.reason));
        if let Some(id) = &self.subject_identifier {
            m.insert("subjectIdentifier".into(), json!(id));
        }
        m.insert("message".into(), json!(self.message));
        Value::Object(m)
    }
}

/// A whole request: its header and the function's fields.
#[derive(Debug)]
pub struct FunctionRequest {
    pub header: RequestHeader,
    pub body: Map<String, Value>,
}

impl FunctionRequest {
    /// Reads a request body.
    pub fn parse(bytes: &[u8]) -> Result<Self, FunctionError> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| FunctionError::invalid(format!("the request is not JSON: {e}")))?;
        let Value::Object(mut body) = value else {
            return Err(FunctionError::invalid("the request must be a JSON object"));
        };
        let header = body.remove("header").ok_or_else(|| {
            FunctionError::invalid(
                "the request has no header: give {\"header\": {\"functionRequesterIdentifier\": \
                 …, \"functionCallIdentifier\": …}, …}",
            )
        })?;
        let header: RequestHeader = serde_json::from_value(header)
            .map_err(|e| FunctionError::invalid(format!("request header: {e}")))?;
        if header.function_call_identifier.is_empty() {
            return Err(FunctionError::invalid(
                "header.functionCallIdentifier must not be empty",
            ));
        }
        Ok(Self { header, body })
    }

    /// A mandatory string field.
    pub fn text(&self, field: &str) -> Result<String, FunctionError> {
        match self.body.get(field) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            Some(_) => Err(FunctionError::new(
                subject::FUNCTION_REQUESTER,
                reason::INVALID,
                format!("{field} must be a non-empty string"),
            )),
            None => Err(FunctionError::new(
                subject::FUNCTION_REQUESTER,
                reason::MISSING,
                format!("the mandatory element {field} is missing"),
            )),
        }
    }

    /// An optional string field.
    pub fn opt_text(&self, field: &str) -> Result<Option<String>, FunctionError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(_) => self.text(field).map(Some),
        }
    }

    /// An optional boolean field (`false` when absent).
    pub fn flag(&self, field: &str) -> Result<bool, FunctionError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(_) => Err(FunctionError::new(
                subject::FUNCTION_REQUESTER,
                reason::INVALID,
                format!("{field} must be true or false"),
            )),
        }
    }

    /// An optional unsigned number field.
    pub fn opt_number(&self, field: &str) -> Result<Option<u64>, FunctionError> {
        match self.body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v.as_u64().map(Some).ok_or_else(|| {
                FunctionError::new(
                    subject::FUNCTION_REQUESTER,
                    reason::INVALID,
                    format!("{field} must be a non-negative integer"),
                )
            }),
        }
    }
}

/// The answer header: who answers, to which call, with what status.
pub fn answer_header(
    responder: &str,
    call: &str,
    status: Status,
    error: Option<&FunctionError>,
) -> Value {
    let mut execution = Map::new();
    execution.insert("status".into(), json!(status));
    if let Some(e) = error {
        execution.insert("statusCodeData".into(), e.status_code_data());
    }
    json!({
        "functionRequesterIdentifier": responder,
        "functionCallIdentifier": call,
        "functionExecutionStatus": Value::Object(execution),
    })
}

/// A success answer: the header and `fields` (an object).
pub fn success(responder: &str, call: &str, fields: Value) -> Value {
    with_header(
        answer_header(responder, call, Status::ExecutedSuccess, None),
        fields,
    )
}

/// A failure answer.
pub fn failure(responder: &str, call: &str, error: &FunctionError) -> Value {
    with_header(
        answer_header(responder, call, Status::Failed, Some(error)),
        Value::Object(Map::new()),
    )
}

/// The answer of a function whose validity period ran out before it could start: status
/// `Expired`, reason `4.10`, nothing done.
pub fn expired(responder: &str, call: &str, waited: std::time::Duration, validity: u64) -> Value {
    let e = FunctionError::new(
        subject::FUNCTION_PROVIDER,
        reason::EXPIRED,
        format!(
            "the function waited {:.1} s for its card, past its validity period of {validity} s; \
             nothing was done: call again, with a longer validityPeriod if the card is busy",
            waited.as_secs_f64()
        ),
    );
    with_header(
        answer_header(responder, call, Status::Expired, Some(&e)),
        Value::Object(Map::new()),
    )
}

fn with_header(header: Value, fields: Value) -> Value {
    let mut out = Map::new();
    out.insert("header".into(), header);
    if let Value::Object(f) = fields {
        out.extend(f);
    }
    Value::Object(out)
}

/// Adds `processingStart` and `processingEnd` (RFC 3339, UTC) to an answer's header.
pub fn stamp(answer: &mut Value, start: &str, end: &str) {
    if let Some(Value::Object(h)) = answer.get_mut("header") {
        h.insert("processingStart".into(), json!(start));
        h.insert("processingEnd".into(), json!(end));
    }
}

/// The status of an answer, if it has one.
pub fn status_of(answer: &Value) -> Option<Status> {
    answer
        .pointer("/header/functionExecutionStatus/status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_header_and_fields_are_read() {
        let r = FunctionRequest::parse(
            br#"{"header":{"functionRequesterIdentifier":"mno","functionCallIdentifier":"c-1",
                 "validityPeriod":600},"eid":"8904","enableProfile":true}"#,
        )
        .unwrap();
        assert_eq!(r.header.function_requester_identifier, "mno");
        assert_eq!(r.header.validity_period, Some(600));
        assert_eq!(r.text("eid").unwrap(), "8904");
        assert!(r.flag("enableProfile").unwrap());
        assert_eq!(r.text("iccid").unwrap_err().reason, reason::MISSING);
        assert_eq!(r.flag("eid").unwrap_err().reason, reason::INVALID);
    }

    #[test]
    fn a_request_without_header_or_not_json_is_invalid() {
        for bad in [
            &b"{}"[..],
            b"[1]",
            b"{\"header\":",
            b"{\"header\":{\"functionCallIdentifier\":\"\",\"functionRequesterIdentifier\":\"x\"}}",
        ] {
            let e = FunctionRequest::parse(bad).unwrap_err();
            assert_eq!((e.http, e.reason.as_str()), (400, reason::INVALID), "{e}");
        }
    }

    #[test]
    fn answers_carry_the_status_and_the_codes() {
        let ok = success("sm-sr", "c-1", json!({"isdPAid": "A0"}));
        assert_eq!(status_of(&ok), Some(Status::ExecutedSuccess));
        assert_eq!(ok["isdPAid"], "A0");
        assert!(ok
            .pointer("/header/functionExecutionStatus/statusCodeData")
            .is_none());
        let e = FunctionError::unknown_eid("8904");
        let failed = failure("sm-sr", "c-2", &e);
        assert_eq!(
            failed["header"]["functionExecutionStatus"]["status"],
            "Failed"
        );
        let codes = &failed["header"]["functionExecutionStatus"]["statusCodeData"];
        assert_eq!(
            (codes["subjectCode"].as_str(), codes["reasonCode"].as_str()),
            (Some("8.1.1"), Some("3.9"))
        );
        assert_eq!(codes["subjectIdentifier"], "8904");
    }
}

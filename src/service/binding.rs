//! The JSON forms of our binding that both services share: ISD-P records, POL2 rules, the EIS
//! as it leaves the SM-SR, and the mapping of role errors to SGP.02 status codes.

use super::envelope::{reason, subject, FunctionError, FunctionRequest};
use crate::sm_dp::es8::Es8Error;
use crate::sm_sr::eis::{parse_eid, Eis};
use crate::sm_sr::es5::Es5Error;
use crate::sm_sr::pol2::{Pol2, Rule};
use crate::sm_sr::registry::{IsdpRecord, RegistryError};
use serde_json::{json, Value};
use smsr_proto::gp::get_data::Eid;

/// A request's `eid`: 32 decimal digits; anything else is `Failed` with subject EID (8.1.1),
/// reason invalid (2.1).
pub fn eid_from(r: &FunctionRequest) -> Result<Eid, FunctionError> {
    let text = r.text("eid")?;
    parse_eid(&text).map_err(|e| {
        FunctionError::new(subject::EID, reason::INVALID, format!("eid: {e}")).about(text)
    })
}

/// An ISD-P as the services show it.
pub fn isdp(r: &IsdpRecord) -> Value {
    let rules: Vec<Value> = Pol2::from_json(&r.pol2)
        .map(|p| p.rules().iter().map(|r| pol2_rule(*r)).collect())
        .unwrap_or_default();
    json!({
        "isdPAid": r.aid,
        "iccid": r.iccid,
        "state": r.state,
        "fallbackAttribute": r.fallback,
        "pol2": rules,
        "pending": r.pending,
    })
}

/// The ISD-Ps, in order.
pub fn isdps(records: &[IsdpRecord]) -> Value {
    Value::Array(records.iter().map(isdp).collect())
}

/// One POL2 rule as SGP.02 writes it: subject PROFILE, an action and a qualification.
pub fn pol2_rule(rule: Rule) -> Value {
    let (action, qualification) = match rule {
        Rule::EnableNotAllowed => ("ENABLE", "Not-Allowed"),
        Rule::DisableNotAllowed => ("DISABLE", "Not-Allowed"),
        Rule::DeleteNotAllowed => ("DELETE", "Not-Allowed"),
        Rule::AutoDelete => ("DISABLE", "Auto-Delete"),
    };
    json!({"subject": "PROFILE", "action": action, "qualification": qualification})
}

/// POL2 rules from a request's `pol2` array.
pub fn pol2_from(value: &Value) -> Result<Pol2, FunctionError> {
    let bad = |what: String| {
        FunctionError::new(subject::FUNCTION_REQUESTER, reason::INVALID, format!(
            "pol2: {what}; give an array of {{\"subject\": \"PROFILE\", \"action\": \
             \"ENABLE\"|\"DISABLE\"|\"DELETE\", \"qualification\": \"Not-Allowed\"|\"Auto-Delete\"}}"
        ))
    };
    let Value::Array(items) = value else {
        return Err(bad("not an array".into()));
    };
    let mut rules = Vec::new();
    for item in items {
        let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or("");
        if !field("subject").eq_ignore_ascii_case("PROFILE") {
            return Err(bad(format!(
                "subject {:?} is not PROFILE",
                field("subject")
            )));
        }
        let rule = match (
            field("action").to_ascii_uppercase().as_str(),
            field("qualification").to_ascii_lowercase().as_str(),
        ) {
            ("ENABLE", "not-allowed") => Rule::EnableNotAllowed,
            ("DISABLE", "not-allowed") => Rule::DisableNotAllowed,
            ("DELETE", "not-allowed") => Rule::DeleteNotAllowed,
            ("DISABLE", "auto-delete") => Rule::AutoDelete,
            (a, q) => return Err(bad(format!("no rule {a}/{q}"))),
        };
        rules.push(rule);
    }
    Ok(Pol2::new(&rules))
}

/// The EIS as the SM-SR gives it to an SM-DP or an MNO: without the ISD-R's keys.
pub fn public_eis(eis: &Eis) -> Value {
    let mut e = eis.clone();
    // Every key list named, so a new one cannot be forgotten here.
    let crate::sm_sr::eis::IsdR {
        aid: _,
        tar: _,
        scp80,
        scp81,
        scp03,
    } = &mut e.isd_r;
    scp80.clear();
    scp81.clear();
    scp03.clear();
    serde_json::from_str(&e.to_json()).unwrap_or(Value::Null)
}

/// A registry error as a function's status.
pub fn registry_error(e: &RegistryError) -> FunctionError {
    match e {
        RegistryError::UnknownEid(eid) => FunctionError::unknown_eid(&eid.to_string()),
        RegistryError::AlreadyRegistered(eid) => {
            FunctionError::new(subject::EID, reason::ALREADY_IN_USE, e.to_string()).about(eid)
        }
        RegistryError::UnknownIccid { iccid, .. } => {
            FunctionError::new(subject::ICCID, reason::UNKNOWN, e.to_string()).about(iccid)
        }
        RegistryError::UnknownIsdp { aid, .. } => {
            FunctionError::new(subject::ISD_P, reason::UNKNOWN, e.to_string())
                .about(aid.to_string())
        }
        _ => FunctionError::execution(e.to_string()),
    }
}

/// An ES5 function's failure as a function's status.
pub fn es5_error(e: &Es5Error) -> FunctionError {
    match e {
        Es5Error::Registry(r) => registry_error(r),
        Es5Error::Transport(t) => FunctionError::new(
            subject::FUNCTION_PROVIDER,
            reason::TRANSPORT,
            format!("the card was not reached or was lost: {t}"),
        ),
        Es5Error::Secure(s) => FunctionError::new(
            subject::FUNCTION_PROVIDER,
            reason::VERIFICATION_FAILED,
            s.to_string(),
        ),
        Es5Error::TlsRefused(_) => FunctionError::new(
            subject::FUNCTION_PROVIDER,
            reason::VERIFICATION_FAILED,
            e.to_string(),
        ),
        Es5Error::Session(_) => {
            FunctionError::new(subject::FUNCTION_PROVIDER, reason::TRANSPORT, e.to_string())
        }
        Es5Error::Input(m) => {
            FunctionError::new(subject::FUNCTION_REQUESTER, reason::INVALID, m.clone())
        }
        Es5Error::IccidInUse { iccid, .. } => {
            FunctionError::new(subject::ICCID, reason::ALREADY_IN_USE, e.to_string()).about(iccid)
        }
        Es5Error::Pol2 { .. } => {
            FunctionError::new(subject::ICCID, reason::NOT_ALLOWED, e.to_string())
        }
        Es5Error::Refused { .. } | Es5Error::PorRefused { .. } => {
            FunctionError::new(subject::FUNCTION_PROVIDER, reason::REFUSED, e.to_string())
        }
        Es5Error::BadResponse(_) | Es5Error::Relay { .. } => {
            FunctionError::execution(e.to_string())
        }
    }
}

/// An ES8 failure as a function's status.
pub fn es8_error(e: &Es8Error) -> FunctionError {
    match e {
        Es8Error::Es5(e) => es5_error(e),
        Es8Error::Input(m) => FunctionError::execution(m.clone()),
        Es8Error::Security(m) | Es8Error::ReceiptMismatch(m) => FunctionError::new(
            subject::FUNCTION_PROVIDER,
            reason::VERIFICATION_FAILED,
            m.clone(),
        ),
        Es8Error::Refused(m) => FunctionError::new(
            subject::ICCID,
            reason::REFUSED,
            format!("the card refused the profile: {m}"),
        ),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_eid_of_a_request_is_read_once() {
        let request = |eid: Value| {
            let mut body = json!({
                "header": {"functionRequesterIdentifier": "mno", "functionCallIdentifier": "c"},
            });
            body["eid"] = eid;
            FunctionRequest::parse(body.to_string().as_bytes()).unwrap()
        };
        let eid = eid_from(&request(json!("89001999000010000000000000000022"))).unwrap();
        assert_eq!(eid.to_string(), "89001999000010000000000000000022");
        for bad in ["8904", "8900199900001000000000000000001A", "E"] {
            let e = eid_from(&request(json!(bad))).unwrap_err();
            assert_eq!(
                (e.subject.as_str(), e.reason.as_str()),
                (subject::EID, reason::INVALID),
                "{e}"
            );
            assert_eq!(e.subject_identifier.as_deref(), Some(bad));
            assert!(e.message.contains("32 decimal digits"), "{e}");
        }
        // Missing or not a string: as every mandatory text field.
        let e = eid_from(&request(Value::Null)).unwrap_err();
        assert_eq!(e.reason, reason::INVALID);
        let e = eid_from(&request(json!(8904))).unwrap_err();
        assert_eq!(e.reason, reason::INVALID);
    }

    #[test]
    fn pol2_rules_go_both_ways() {
        for rule in [
            Rule::EnableNotAllowed,
            Rule::DisableNotAllowed,
            Rule::DeleteNotAllowed,
            Rule::AutoDelete,
        ] {
            let v = Value::Array(vec![pol2_rule(rule)]);
            assert_eq!(pol2_from(&v).unwrap(), Pol2::new(&[rule]));
        }
        let bad =
            json!([{"subject": "PROFILE", "action": "ENABLE", "qualification": "Auto-Delete"}]);
        assert_eq!(pol2_from(&bad).unwrap_err().reason, reason::INVALID);
        assert!(pol2_from(&json!({})).is_err());
    }
}

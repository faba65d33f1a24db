//! One SGP.02 function through goose, end to end: the POST (named after the function, e.g.
//! `es2.DownloadProfile`), then for a `202` the polls of its operation
//! (`GET /operations/{id}?waitSeconds=N`, named `es2.DownloadProfile:result`) until it is
//! done, and the function's status judged: anything but `Executed-Success` is a failure with
//! its status code, set on the last request with goose's `set_failure`.

use crate::record::Outcome;
use goose::prelude::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// The longest wait of one poll (the services cap it at 30 s).
const POLL_SECONDS: u64 = 25;

/// Who calls, and how long an operation may take.
#[derive(Debug, Clone)]
pub struct Caller {
    pub requester: String,
    pub run_id: String,
    pub timeout: Duration,
}

/// A function's result.
#[derive(Debug)]
pub struct Called {
    pub outcome: Outcome,
    /// The function's answer (the operation's result for a `202`).
    pub answer: Value,
    pub sent: Instant,
    pub end: Instant,
}

/// `Failed 8.2.1/3.9`: the status and the subject/reason codes of a function's answer, and
/// its message; `None` for `Executed-Success`.
pub fn failure_of(answer: &Value) -> Option<(String, String)> {
    let fes = &answer["header"]["functionExecutionStatus"];
    let status = fes["status"].as_str().unwrap_or("no status");
    if status == "Executed-Success" {
        return None;
    }
    let codes = &fes["statusCodeData"];
    let code = match (codes["subjectCode"].as_str(), codes["reasonCode"].as_str()) {
        (Some(s), Some(r)) => format!("{status} {s}/{r}"),
        _ => status.to_owned(),
    };
    let message = codes["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| answer.to_string().chars().take(200).collect());
    Some((code, message))
}

fn failure(code: impl Into<String>, message: impl Into<String>) -> Outcome {
    Outcome::Failure {
        code: code.into(),
        message: message.into(),
    }
}

/// One request through goose: its metric, HTTP status and JSON body (or why there is none).
async fn request(
    user: &mut GooseUser,
    method: GooseMethod,
    url: &str,
    name: &str,
    body: Option<&Value>,
) -> Result<
    (goose::metrics::GooseRequestMetric, u16, Value),
    (Option<goose::metrics::GooseRequestMetric>, Outcome),
> {
    let builder = user
        .get_request_builder(&method, url)
        .map_err(|e| (None, failure("client", e.to_string())))?;
    let builder = match body {
        Some(b) => builder.json(b),
        None => builder,
    };
    let req = GooseRequest::builder()
        .method(method)
        .path(url)
        .name(name)
        .set_request_builder(builder)
        .build();
    let goose = user
        .request(req)
        .await
        .map_err(|e| (None, failure("client", e.to_string())))?;
    let metric = goose.request;
    let response = match goose.response {
        Ok(r) => r,
        Err(e) => {
            let detail = error_chain(&e);
            return Err((Some(metric), failure("transport", detail)));
        }
    };
    let status = response.status().as_u16();
    match response.json::<Value>().await {
        Ok(v) => Ok((metric, status, v)),
        Err(e) => Err((
            Some(metric),
            failure(
                format!("HTTP {status}"),
                format!("the answer is not JSON: {e}"),
            ),
        )),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// Calls `function` (`/es2/DownloadProfile`) at `base` with `fields`, waits for its result.
pub async fn call(
    caller: &Caller,
    user: &mut GooseUser,
    base: &str,
    function: &str,
    fields: Value,
    call_number: u64,
) -> Called {
    let name = function.trim_start_matches('/').replacen('/', ".", 1);
    let mut body = match fields {
        Value::Object(m) => m,
        _ => serde_json::Map::new(),
    };
    body.insert(
        "header".into(),
        json!({
            "functionRequesterIdentifier": caller.requester,
            "functionCallIdentifier": format!("load-{}-{call_number}", caller.run_id),
            "validityPeriod": caller.timeout.as_secs(),
        }),
    );
    let body = Value::Object(body);
    let sent = Instant::now();
    let url = format!("{base}{function}");
    let done = |outcome, answer| Called {
        outcome,
        answer,
        sent,
        end: Instant::now(),
    };
    let (mut metric, status, answer) =
        match request(user, GooseMethod::Post, &url, &name, Some(&body)).await {
            Ok(r) => r,
            Err((_, outcome)) => return done(outcome, Value::Null),
        };
    let answer = match status {
        200 => answer,
        202 => {
            let Some(result_url) = answer["resultUrl"].as_str().map(str::to_owned) else {
                let outcome = failure("HTTP 202", "202 without resultUrl");
                let _ = user.set_failure("202 without resultUrl", &mut metric, None, None);
                return done(outcome, answer);
            };
            match poll(caller, user, base, &result_url, &name, sent).await {
                Ok((m, result)) => {
                    metric = m;
                    result
                }
                Err((m, outcome)) => {
                    if let (Some(mut m), Outcome::Failure { code, .. }) = (m, &outcome) {
                        let _ = user.set_failure(code, &mut m, None, None);
                    }
                    return done(outcome, Value::Null);
                }
            }
        }
        status => {
            let (code, message) = failure_of(&answer)
                .map(|(c, m)| (format!("HTTP {status} {c}"), m))
                .unwrap_or_else(|| (format!("HTTP {status}"), answer.to_string()));
            return done(failure(code, message), answer);
        }
    };
    match failure_of(&answer) {
        None => done(Outcome::Success, answer),
        Some((code, message)) => {
            let _ = user.set_failure(&format!("{name}: {code}"), &mut metric, None, None);
            done(failure(code, message), answer)
        }
    }
}

/// Polls an operation until it is done; its result and the last poll's metric.
async fn poll(
    caller: &Caller,
    user: &mut GooseUser,
    base: &str,
    result_url: &str,
    name: &str,
    sent: Instant,
) -> Result<
    (goose::metrics::GooseRequestMetric, Value),
    (Option<goose::metrics::GooseRequestMetric>, Outcome),
> {
    let poll_name = format!("{name}:result");
    loop {
        let left = caller.timeout.saturating_sub(sent.elapsed()).as_secs();
        if left == 0 {
            return Err((
                None,
                failure(
                    "timeout",
                    format!("not done after {} s", caller.timeout.as_secs()),
                ),
            ));
        }
        let url = format!("{base}{result_url}?waitSeconds={}", left.min(POLL_SECONDS));
        let (metric, status, body) =
            request(user, GooseMethod::Get, &url, &poll_name, None).await?;
        if status != 200 {
            let outcome = failure(format!("HTTP {status}"), body.to_string());
            return Err((Some(metric), outcome));
        }
        if body["state"] == "done" {
            return Ok((metric, body["result"].clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_read_from_answers() {
        let ok = json!({"header": {"functionExecutionStatus": {"status": "Executed-Success"}}});
        assert_eq!(failure_of(&ok), None);
        let failed = json!({"header": {"functionExecutionStatus": {"status": "Failed",
            "statusCodeData": {"subjectCode": "8.2.1", "reasonCode": "3.9", "message": "unknown ICCID"}}}});
        assert_eq!(
            failure_of(&failed),
            Some(("Failed 8.2.1/3.9".into(), "unknown ICCID".into()))
        );
        let expired = json!({"header": {"functionExecutionStatus": {"status": "Expired"}}});
        assert_eq!(failure_of(&expired).unwrap().0, "Expired");
        assert_eq!(failure_of(&json!({})).unwrap().0, "no status");
    }
}

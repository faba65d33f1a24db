//! The SM-SR and the SM-DP as network services (`smsr serve sm-sr|sm-dp`): HTTPS with mutual
//! TLS on the test PKI, our JSON binding of the SGP.02 functions ([`envelope`]), long functions
//! as operations ([`operations`]), and the cards the SM-SR reaches ([`cards`]).
//!
//! The services call the same role functions as the command line ([`crate::sm_sr`],
//! [`crate::sm_dp`]); this module only carries requests to them and answers back.

pub mod binding;
pub mod cards;
pub mod client;
pub mod envelope;
pub mod http;
pub mod lease;
pub mod operations;
pub mod sm_dp;
pub mod sm_sr;

use crate::tls::Role;
use envelope::{FunctionError, FunctionRequest, RequestHeader};
use http::{Request, Response};
use operations::{OpState, Operations};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

/// Whether a function answers at once or runs as an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `200` with the result.
    Answer,
    /// `202` with an `operationId`; the result at `GET /operations/{id}`.
    Operation,
}

/// One function of a service: `POST /{interface}/{name}`, for callers of `role`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Function {
    pub interface: &'static str,
    pub name: &'static str,
    pub role: Role,
    pub kind: Kind,
}

impl Function {
    pub const fn new(interface: &'static str, name: &'static str, role: Role, kind: Kind) -> Self {
        Self {
            interface,
            name,
            role,
            kind,
        }
    }

    /// `/{interface}/{name}`.
    pub fn path(&self) -> String {
        format!("/{}/{}", self.interface, self.name)
    }
}

/// The function at `path`.
pub fn find_function(table: &'static [Function], path: &str) -> Option<&'static Function> {
    let (interface, name) = path.strip_prefix('/')?.split_once('/')?;
    table
        .iter()
        .find(|f| f.interface == interface && f.name == name)
}

/// Checks the caller may call `f` (its certificate's role; the requester identifier it gives is
/// its certificate's name) and reads the request.
pub fn authorize(f: &Function, req: &Request) -> Result<FunctionRequest, Response> {
    let call_of = |body: &[u8]| {
        serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| {
                v.pointer("/header/functionCallIdentifier")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default()
    };
    if req.peer.role != f.role {
        let e = FunctionError::unauthorized(format!(
            "{} is an {} function: its caller must hold a {} certificate; this one ({}) is \
             a {} certificate",
            f.path(),
            f.interface.to_uppercase(),
            f.role,
            req.peer.name,
            req.peer.role
        ));
        return Err(failed(&req.peer.name, &call_of(&req.body), &e));
    }
    let request = FunctionRequest::parse(&req.body)
        .map_err(|e| failed(&req.peer.name, &call_of(&req.body), &e))?;
    if request.header.function_requester_identifier != req.peer.name {
        let e = FunctionError::unauthorized(format!(
            "functionRequesterIdentifier {:?} is not the name in the client certificate ({:?})",
            request.header.function_requester_identifier, req.peer.name
        ));
        return Err(failed(
            &req.peer.name,
            &request.header.function_call_identifier,
            &e,
        ));
    }
    Ok(request)
}

/// A `Failed` answer with the error's HTTP status.
pub fn failed(responder: &str, call: &str, e: &FunctionError) -> Response {
    Response::new(e.http, envelope::failure(responder, call, e))
}

/// The `202` of an operation.
pub fn accepted(header: &RequestHeader, id: &str, state: OpState) -> Response {
    let mut body = json!({
        "header": {"functionCallIdentifier": header.function_call_identifier},
        "operationId": id,
        "state": state,
        "resultUrl": format!("/operations/{id}"),
    });
    if let Some(v) = header.validity_period {
        body["acceptableValidityPeriod"] = json!(v);
    }
    Response::new(202, body)
}

/// `404` with the list of what is served.
pub fn not_found(req: &Request) -> Response {
    Response::new(
        404,
        json!({"error": format!("no {} {} here: POST /{{es1|es2|es3|es4}}/{{Function}}, GET /operations/{{id}}, GET /status", req.method, req.path)}),
    )
}

/// `GET /operations/{id}[?waitSeconds=N]`: the operation, for its requester only.
pub async fn get_operation(ops: &Operations, req: &Request) -> Response {
    let id = req.path.trim_start_matches("/operations/");
    let wait = req
        .query_param("waitSeconds")
        .and_then(|w| w.parse::<u64>().ok())
        .unwrap_or(0)
        .min(30);
    let unknown = || {
        Response::new(
            404,
            json!({"error": format!("no operation {id} (operations are kept until the service restarts)")}),
        )
    };
    match ops.get(id) {
        Some(s) if s.requester != req.peer.name => return unknown(),
        None => return unknown(),
        Some(_) => {}
    }
    match ops.wait(id, Duration::from_secs(wait)).await {
        Some(s) => Response::new(200, json!(s)),
        None => unknown(),
    }
}

/// POSTs a finished operation's answer to the requester's `replyTo` (as
/// `{replyTo}/{Function}Response`), retried with backoff a few times.
pub async fn reply_to(url: &str, function: &str, answer: &Value, tls: Arc<rustls::ClientConfig>) {
    let client = match client::Client::new(url, tls) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!("replyTo {url}: {e}");
            return;
        }
    };
    let path = format!("/{function}Response");
    let mut delay = Duration::from_millis(200);
    for attempt in 1..=4 {
        match client.request(&path, Some(answer)).await {
            Ok(a) if a.status < 300 => return,
            Ok(a) => tracing::warn!("replyTo {url}{path}: HTTP {} (attempt {attempt})", a.status),
            Err(e) => tracing::warn!("replyTo {url}{path}: {e} (attempt {attempt})"),
        }
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// The API table (function → path → role) of both services, for `--help` and the README.
pub fn api_table() -> Vec<(&'static str, String, Role, Kind)> {
    sm_dp::FUNCTIONS
        .iter()
        .map(|f| ("sm-dp", f.path(), f.role, f.kind))
        .chain(
            sm_sr::FUNCTIONS
                .iter()
                .map(|f| ("sm-sr", f.path(), f.role, f.kind)),
        )
        .collect()
}

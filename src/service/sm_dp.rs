//! The SM-DP as a service: ES2 (MNO → SM-DP) on HTTPS with mutual TLS, driving the SM-SR
//! through ES3 as a client with its own certificate. It never touches a card: key
//! establishment and the SCP03t download are ES8 scripts it prepares and sends in
//! ES3.SendData ([`crate::sm_dp::es3_link`]).
//!
//! | path | caller's role | kind |
//! |---|---|---|
//! | `POST /es2/GetEIS` | mno | answer (ES3.GetEIS) |
//! | `POST /es2/DownloadProfile` | mno | operation |
//! | `POST /es2/EnableProfile`, `/es2/DisableProfile`, `/es2/DeleteProfile` | mno | operation (ES3 EnableProfile, DisableProfile, DeleteISDP) |
//! | `POST /es2/UpdatePolicyRules` | mno | answer (ES3.UpdatePolicyRules) |
//!
//! DownloadProfile (`eid`, `iccid`, `enableProfile`, optional `pol2`): the profile is taken
//! from the stock (reserved, so it goes to one card only), then ES3 GetEIS, CreateISDP, the key
//! establishment and the download in SendData calls, ProfileDownloadCompleted and, when asked,
//! EnableProfile. Each ES3 call's `functionCallIdentifier` is the order's followed by
//! `/es3/{n}`. The result carries each step's time, with the card exchanges the SM-SR
//! reported. Downloads into one EID run one after another.

use super::binding::es8_error;
use super::client::{Client, ClientError};
use super::envelope::{self, reason, subject, FunctionError, FunctionRequest, RequestHeader};
use super::http::{Handler, Request, Response};
use super::operations::{Begun, Operations, Turns};
use super::{Function, Kind};
use crate::hexfmt;
use crate::sm_dp::es3_link::{Es3Link, SendData};
use crate::sm_dp::es8::{self, SmDp};
use crate::sm_dp::provision::Timer;
use crate::sm_dp::stock::{Stock, StockError, StockPool};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::es5::Es5Error;
use crate::tls::Role;
use serde_json::{json, Value};
use smsr_proto::gp::aid::Aid;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Handle;

/// The functions, their interface, the role that may call them and their kind.
pub const FUNCTIONS: &[Function] = &[
    Function::new("es2", "GetEIS", Role::Mno, Kind::Answer),
    Function::new("es2", "DownloadProfile", Role::Mno, Kind::Operation),
    Function::new("es2", "EnableProfile", Role::Mno, Kind::Operation),
    Function::new("es2", "DisableProfile", Role::Mno, Kind::Operation),
    Function::new("es2", "DeleteProfile", Role::Mno, Kind::Operation),
    Function::new("es2", "UpdatePolicyRules", Role::Mno, Kind::Answer),
];

/// The most stock connections the service opens (see the SM-SR's registry connections).
const STOCK_CONNECTIONS: usize = 12;

/// How the SM-DP service runs.
#[derive(Debug, Clone)]
pub struct SmDpConfig {
    /// Its name: the CN of its certificate, its `functionRequesterIdentifier` on ES3.
    pub name: String,
    /// The profile stock.
    pub db: PathBuf,
    /// The client configuration (its certificate) for ES3 and `replyTo`.
    pub client: Arc<rustls::ClientConfig>,
}

/// The SM-DP service.
#[derive(Debug)]
pub struct SmDpService {
    config: SmDpConfig,
    dp: SmDp,
    sm_sr: Client,
    ops: Operations,
    turns: Turns,
    stopping: AtomicBool,
    /// The stock's connections, kept open between requests.
    stocks: Arc<StockPool>,
}

impl SmDpService {
    /// The service with the SM-DP's ES8 identity `dp`, driving the SM-SR at `sm_sr`.
    pub fn new(config: SmDpConfig, dp: SmDp, sm_sr: &str) -> Result<Arc<Self>, FunctionError> {
        let stocks = Stock::pool(&config.db, STOCK_CONNECTIONS);
        let mut stock = stocks
            .get()
            .map_err(|e| FunctionError::execution(e.to_string()))?;
        // Downloads this SM-DP was running when it stopped did not end: their profiles go
        // back to the stock.
        for iccid in stock
            .release_interrupted()
            .map_err(|e| FunctionError::execution(e.to_string()))?
        {
            tracing::warn!("profile {iccid}: its download did not end; available again");
        }
        drop(stock);
        let sm_sr = Client::new(sm_sr, config.client.clone())
            .map_err(|e| FunctionError::execution(e.to_string()))?;
        Ok(Arc::new(Self {
            config,
            dp,
            sm_sr,
            ops: Operations::default(),
            turns: Turns::default(),
            stopping: AtomicBool::new(false),
            stocks,
        }))
    }

    /// Its request handler.
    pub fn handler(self: &Arc<Self>) -> Handler {
        let me = Arc::clone(self);
        Arc::new(move |req| {
            let me = Arc::clone(&me);
            Box::pin(async move { me.handle(req).await })
        })
    }

    /// Stops starting operations and waits up to `limit` for the running ones; returns how
    /// many were still running.
    pub async fn shut_down(&self, limit: Duration) -> u64 {
        self.stopping.store(true, Ordering::SeqCst);
        self.ops.drain(limit).await
    }

    async fn handle(self: Arc<Self>, req: Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/status") => Response::new(
                200,
                json!({
                    "service": "sm-dp",
                    "name": self.config.name,
                    "smSr": self.sm_sr.url(),
                    "operationsInFlight": self.ops.in_flight(),
                    "stopping": self.stopping.load(Ordering::SeqCst),
                }),
            ),
            ("GET", p) if p.starts_with("/operations/") => {
                super::get_operation(&self.ops, &req).await
            }
            ("POST", p) => match super::find_function(FUNCTIONS, p) {
                Some(f) => self.call(f, req).await,
                None => super::not_found(&req),
            },
            _ => super::not_found(&req),
        }
    }

    async fn call(self: Arc<Self>, f: &'static Function, req: Request) -> Response {
        let request = match super::authorize(f, &req) {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let name = self.config.name.clone();
        let header = request.header.clone();
        let call = header.function_call_identifier.clone();
        let failed = |e: &FunctionError| super::failed(&name, &call, e);
        if f.kind == Kind::Operation {
            if let Some(s) = self.ops.find(&header.function_requester_identifier, &call) {
                return super::accepted(&header, &s.operation_id, s.state);
            }
        }
        let eid = match request.text("eid") {
            Ok(e) => e.to_uppercase(),
            Err(e) => return failed(&e),
        };
        match f.name {
            "GetEIS" => match self.es3(&header, 0, "GetEIS", json!({"eid": eid})).await {
                Ok(a) => Response::new(
                    200,
                    envelope::success(&name, &call, json!({"eis": a["eis"]})),
                ),
                Err(e) => failed(&e),
            },
            "UpdatePolicyRules" => {
                let fields = json!({
                    "eid": eid,
                    "iccid": request.body.get("iccid"),
                    "pol2": request.body.get("pol2"),
                });
                match self.es3(&header, 0, "UpdatePolicyRules", fields).await {
                    Ok(a) => Response::new(
                        200,
                        envelope::success(&name, &call, json!({"isdP": a["isdP"]})),
                    ),
                    Err(e) => failed(&e),
                }
            }
            "DownloadProfile" => match self.prepare_download(&request, &eid).await {
                Ok(order) => self.start(f, header, eid, Work::Download(order)),
                Err(e) => failed(&e),
            },
            "EnableProfile" | "DisableProfile" | "DeleteProfile" => {
                let iccid = match request.text("iccid") {
                    Ok(i) => i,
                    Err(e) => return failed(&e),
                };
                let es3 = match f.name {
                    "EnableProfile" => "EnableProfile",
                    "DisableProfile" => "DisableProfile",
                    _ => "DeleteISDP",
                };
                self.start(f, header, eid, Work::Relay { es3, iccid })
            }
            other => failed(&FunctionError::execution(format!(
                "{other} is not served here"
            ))),
        }
    }

    /// Checks a DownloadProfile order and reserves its profile.
    async fn prepare_download(
        &self,
        request: &FunctionRequest,
        eid: &str,
    ) -> Result<DownloadOrder, FunctionError> {
        let iccid = request.text("iccid")?;
        let enable = request.flag("enableProfile")?;
        let pol2 = match request.body.get("pol2") {
            Some(p) => Some(super::binding::pol2_from(p)?),
            None => None,
        };
        let stocks = Arc::clone(&self.stocks);
        let (i, e) = (iccid.clone(), eid.to_owned());
        let der = tokio::task::spawn_blocking(move || stocks.get()?.reserve(&i, &e))
            .await
            .map_err(|e| FunctionError::execution(e.to_string()))?
            .map_err(|e| stock_error(&e, &iccid))?;
        Ok(DownloadOrder {
            iccid,
            enable,
            pol2: pol2.map(|p| {
                Value::Array(
                    p.rules()
                        .iter()
                        .map(|r| super::binding::pol2_rule(*r))
                        .collect(),
                )
            }),
            der,
        })
    }

    fn start(
        self: Arc<Self>,
        f: &'static Function,
        header: RequestHeader,
        eid: String,
        work: Work,
    ) -> Response {
        let id = match self.ops.begin(
            &header.function_requester_identifier,
            &header.function_call_identifier,
            f.name,
        ) {
            Begun::Existing(s) => return super::accepted(&header, &s.operation_id, s.state),
            Begun::New(id) => id,
        };
        let me = Arc::clone(&self);
        let op = id.clone();
        let head = header.clone();
        let accepted = Instant::now();
        tokio::spawn(async move {
            let turn = me.turns.wait(&eid).await;
            let name = me.config.name.clone();
            let call = head.function_call_identifier.clone();
            let processing_start = crate::trace::now_rfc3339();
            let waited = accepted.elapsed();
            let expired = head
                .validity_period
                .filter(|v| waited > Duration::from_secs(*v));
            let result = if expired.is_some() {
                if let Work::Download(order) = &work {
                    me.release(&order.iccid).await;
                }
                Err(FunctionError::new(
                    subject::FUNCTION_PROVIDER,
                    reason::EXPIRED,
                    "",
                ))
            } else if me.stopping.load(Ordering::SeqCst) {
                if let Work::Download(order) = &work {
                    me.release(&order.iccid).await;
                }
                Err(FunctionError::execution(
                    "the SM-DP is shutting down; nothing was done: order again",
                ))
            } else {
                me.ops.running(&op);
                match work {
                    Work::Download(order) => {
                        let worker = Arc::clone(&me);
                        let handle = Handle::current();
                        let (h, e) = (head.clone(), eid.clone());
                        tokio::task::spawn_blocking(move || worker.download(&handle, &h, &e, order))
                            .await
                            .unwrap_or_else(|e| Err(FunctionError::execution(e.to_string())))
                    }
                    Work::Relay { es3, iccid } => me
                        .es3(&head, 1, es3, json!({"eid": eid, "iccid": iccid}))
                        .await
                        .map(|mut a| {
                            if let Value::Object(m) = &mut a {
                                m.remove("header");
                            }
                            a
                        }),
                }
            };
            drop(turn);
            let mut answer = match (result, expired) {
                (_, Some(v)) => envelope::expired(&name, &call, waited, v),
                (Ok(fields), None) => envelope::success(&name, &call, fields),
                (Err(e), None) => envelope::failure(&name, &call, &e),
            };
            envelope::stamp(&mut answer, &processing_start, &crate::trace::now_rfc3339());
            me.ops.finish(&op, answer.clone());
            if let Some(url) = &head.reply_to {
                super::reply_to(url, f.name, &answer, me.config.client.clone()).await;
            }
        });
        super::accepted(&header, &id, super::operations::OpState::Queued)
    }

    async fn release(&self, iccid: &str) {
        let stocks = Arc::clone(&self.stocks);
        let iccid = iccid.to_owned();
        let _ = tokio::task::spawn_blocking(move || stocks.get()?.release(&iccid)).await;
    }

    /// Calls an ES3 function of the SM-SR for the order `parent` (call identifier
    /// `{parent}/es3/{n}`) and waits for its answer; a `Failed` answer is an error with the
    /// SM-SR's codes.
    async fn es3(
        &self,
        parent: &RequestHeader,
        n: u64,
        function: &str,
        fields: Value,
    ) -> Result<Value, FunctionError> {
        let header = RequestHeader {
            function_requester_identifier: self.config.name.clone(),
            function_call_identifier: format!("{}/es3/{n}", parent.function_call_identifier),
            validity_period: parent.validity_period,
            reply_to: None,
        };
        let answer = self
            .sm_sr
            .call(&format!("/es3/{function}"), &header, fields, true)
            .await
            .map_err(|e| sm_sr_unreachable(&e, function))?;
        match FunctionError::from_answer(&answer) {
            Some(mut e) => {
                e.message = format!("ES3.{function} at the SM-SR: {}", e.message);
                Err(e)
            }
            None => Ok(answer),
        }
    }

    /// The whole download (blocking: ES8 runs here, its ES3 calls on `handle`).
    fn download(
        &self,
        handle: &Handle,
        header: &RequestHeader,
        eid: &str,
        order: DownloadOrder,
    ) -> Result<Value, FunctionError> {
        let start = Instant::now();
        let calls = AtomicU64::new(1);
        let es3 = |function: &str, fields: Value| {
            let n = calls.fetch_add(1, Ordering::Relaxed);
            handle.block_on(self.es3(header, n, function, fields))
        };
        let mut timer = Timer::default();
        let mut created: Option<String> = None;
        let mut completed = false;
        let result: Result<String, FunctionError> = (|| {
            let eis = step(&mut timer, "get-eis", || {
                let a = es3("GetEIS", json!({"eid": eid}))?;
                let eis = Eis::from_json(&a["eis"].to_string()).map_err(|e| {
                    FunctionError::execution(format!("the EIS the SM-SR gave: {e}"))
                })?;
                Ok((
                    eis,
                    card_of(&a),
                    "EIS with ECASD and EUM certificates".to_owned(),
                ))
            })?;
            let aid_text = step(&mut timer, "create-isdp", || {
                let a = es3(
                    "CreateISDP",
                    json!({
                        "eid": eid,
                        "iccid": order.iccid,
                        "mnoId": header.function_requester_identifier,
                        "moreToDo": true,
                    }),
                )?;
                let aid = a["isdPAid"].as_str().unwrap_or_default().to_owned();
                Ok((aid.clone(), card_of(&a), format!("ISD-P {aid}")))
            })?;
            created = Some(aid_text.clone());
            let aid = hexfmt::parse(&aid_text)
                .ok()
                .and_then(|b| Aid::new(&b).ok())
                .ok_or_else(|| {
                    FunctionError::execution(format!(
                        "the SM-SR created ISD-P {aid_text:?}, which is no AID"
                    ))
                })?;
            let isd_r = hexfmt::parse(&eis.isd_r.aid)
                .ok()
                .and_then(|b| Aid::new(&b).ok())
                .ok_or_else(|| FunctionError::execution("the EIS's ISD-R AID is no AID"))?;
            let port = Es3Port {
                es3: &es3,
                eid,
                card: Card::default(),
            };
            let mut link = Es3Link::new(port, isd_r);
            let keys = step(&mut timer, "establish-keys", || {
                let before = link_card(&link);
                let k = es8::establish_keys(&mut link, &eis, &self.dp, &aid)
                    .map_err(|e| es8_error(&e))?;
                let d = format!("ISD-P key set {:02X}, receipt verified", k.keys.kvn());
                Ok((k, link_card(&link).since(before), d))
            })?;
            step(&mut timer, "download", || {
                let before = link_card(&link);
                let d =
                    es8::download(&mut link, &aid, &keys, &order.der).map_err(|e| es8_error(&e))?;
                let detail = format!(
                    "{} bytes in {} segment(s), {} PE(s) ok",
                    order.der.len(),
                    d.segments,
                    d.pe_status.len()
                );
                Ok(((), link_card(&link).since(before), detail))
            })?;
            step(&mut timer, "download-completed", || {
                let mut fields = json!({"eid": eid, "iccid": order.iccid});
                if let Some(p) = &order.pol2 {
                    fields["pol2"] = p.clone();
                }
                let a = es3("ProfileDownloadCompleted", fields)?;
                Ok((
                    (),
                    card_of(&a),
                    "profile DISABLED in the registry".to_owned(),
                ))
            })?;
            completed = true;
            if order.enable {
                step(&mut timer, "enable", || {
                    let a = es3("EnableProfile", json!({"eid": eid, "iccid": order.iccid}))?;
                    Ok((
                        (),
                        card_of(&a),
                        "enabled, card reset, notifications confirmed".to_owned(),
                    ))
                })?;
            }
            Ok(aid_text)
        })();
        let stocks = &self.stocks;
        match result {
            Ok(aid) => {
                let total_ms = start.elapsed().as_secs_f64() * 1000.0;
                timer.finish(total_ms);
                stocks
                    .get()
                    .and_then(|mut s| s.downloaded(&order.iccid))
                    .map_err(|e| FunctionError::execution(e.to_string()))?;
                let apdus: u64 = timer.steps.iter().map(|s| s.apdus).sum();
                let bytes: u64 = timer.steps.iter().map(|s| s.bytes).sum();
                Ok(json!({
                    "eid": eid,
                    "iccid": order.iccid,
                    "isdPAid": aid,
                    "profileEnabled": order.enable,
                    "steps": timer.steps,
                    "totalMs": total_ms,
                    "apdus": apdus,
                    "bytes": bytes,
                }))
            }
            Err(mut e) => {
                let at = timer.failed.as_ref().map(|(s, _)| s.clone());
                // The SM-SR refusing CreateISDP with 3.3 says the profile is on this card
                // already: an earlier order of it got there, and its answer was lost (the
                // SM-SR serving it stopped).
                let on_card = created.is_none() && e.reason == reason::ALREADY_IN_USE;
                if completed || on_card {
                    // The profile is on the card: it stays out of the stock.
                    let _ = stocks.get().and_then(|mut s| s.downloaded(&order.iccid));
                } else {
                    if created.is_some() {
                        // A half-done ISD-P holds no profile: it goes, and the profile returns
                        // to the stock.
                        if let Err(d) = es3("DeleteISDP", json!({"eid": eid, "iccid": order.iccid}))
                        {
                            tracing::warn!("clean-up of the ISD-P for {}: {d}", order.iccid);
                        }
                    }
                    let _ = stocks.get().and_then(|mut s| s.release(&order.iccid));
                }
                if let Some(step) = at {
                    e.message = format!("DownloadProfile stopped at {step}: {}", e.message);
                }
                Err(e)
            }
        }
    }
}

/// What a running SM-DP operation does.
enum Work {
    Download(DownloadOrder),
    Relay { es3: &'static str, iccid: String },
}

/// A checked DownloadProfile order, its profile reserved.
struct DownloadOrder {
    iccid: String,
    enable: bool,
    pol2: Option<Value>,
    der: Vec<u8>,
}

/// Card exchanges the SM-SR reported.
#[derive(Clone, Copy, Debug, Default)]
struct Card {
    apdus: u64,
    bytes: u64,
}

impl Card {
    fn since(self, before: Card) -> Card {
        Card {
            apdus: self.apdus.saturating_sub(before.apdus),
            bytes: self.bytes.saturating_sub(before.bytes),
        }
    }
}

fn card_of(answer: &Value) -> Card {
    Card {
        apdus: answer["card"]["apdus"].as_u64().unwrap_or(0),
        bytes: answer["card"]["bytes"].as_u64().unwrap_or(0),
    }
}

fn link_card<P>(link: &Es3Link<Es3Port<'_, P>>) -> Card
where
    P: Fn(&str, Value) -> Result<Value, FunctionError>,
{
    link.port().card
}

/// Times a step; `f` returns its value, the card exchanges and a detail.
fn step<T>(
    timer: &mut Timer,
    name: &str,
    f: impl FnOnce() -> Result<(T, Card, String), FunctionError>,
) -> Result<T, FunctionError> {
    let t = Instant::now();
    match f() {
        Ok((v, card, detail)) => {
            timer.push(
                name,
                t.elapsed().as_secs_f64() * 1000.0,
                card.apdus,
                card.bytes,
                detail,
            );
            Ok(v)
        }
        Err(e) => {
            timer.failed = Some((name.to_owned(), t.elapsed().as_secs_f64() * 1000.0));
            Err(e)
        }
    }
}

/// ES3.SendData for [`Es3Link`], counting the card exchanges the SM-SR reports.
struct Es3Port<'a, P> {
    es3: &'a P,
    eid: &'a str,
    card: Card,
}

impl<P> std::fmt::Debug for Es3Port<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Es3Port({})", self.eid)
    }
}

impl<P> SendData for Es3Port<'_, P>
where
    P: Fn(&str, Value) -> Result<Value, FunctionError>,
{
    fn send_data(&mut self, sd_aid: &Aid, script: &[u8]) -> Result<Vec<u8>, Es5Error> {
        let answer = (self.es3)(
            "SendData",
            json!({
                "eid": self.eid,
                "sdAid": hexfmt::upper(sd_aid.as_bytes()),
                "data": hexfmt::upper(script),
                "moreToDo": true,
            }),
        )
        .map_err(|e| Es5Error::Relay {
            detail: e.to_string(),
        })?;
        let c = card_of(&answer);
        self.card.apdus += c.apdus;
        self.card.bytes += c.bytes;
        let data = answer["euiccResponseData"].as_str().unwrap_or_default();
        hexfmt::parse(data).map_err(|e| Es5Error::Relay {
            detail: format!("euiccResponseData: {e}"),
        })
    }
}

fn stock_error(e: &StockError, iccid: &str) -> FunctionError {
    match e {
        StockError::Unknown(_) => {
            FunctionError::new(subject::ICCID, reason::UNKNOWN, e.to_string()).about(iccid)
        }
        StockError::NotAvailable { .. } => {
            FunctionError::new(subject::ICCID, reason::ALREADY_IN_USE, e.to_string()).about(iccid)
        }
        _ => FunctionError::execution(e.to_string()),
    }
}

fn sm_sr_unreachable(e: &ClientError, function: &str) -> FunctionError {
    let reason = if e.is_unreachable() {
        reason::TRANSPORT
    } else {
        reason::EXECUTION_ERROR
    };
    FunctionError::new(subject::SM_SR, reason, format!("ES3.{function}: {e}"))
}

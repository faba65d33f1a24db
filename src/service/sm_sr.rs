//! The SM-SR as a service: ES1 (EUM → SM-SR), ES3 (SM-DP → SM-SR) and ES4 (MNO → SM-SR) on
//! HTTPS with mutual TLS, over the registry and the cards it reaches ([`super::cards`]).
//!
//! | path | caller's role | kind |
//! |---|---|---|
//! | `POST /es1/RegisterEIS` | eum | answer |
//! | `POST /es3/GetEIS`, `/es4/GetEIS` | sm-dp, mno | answer |
//! | `POST /es3/CreateISDP` | sm-dp | operation |
//! | `POST /es3/SendData` | sm-dp | operation |
//! | `POST /es3/ProfileDownloadCompleted` | sm-dp | answer |
//! | `POST /es3/EnableProfile`, `/es3/DisableProfile`, `/es3/DeleteISDP` | sm-dp | operation |
//! | `POST /es3/UpdatePolicyRules`, `/es4/UpdatePolicyRules` | sm-dp, mno | answer |
//! | `POST /es4/AuditEIS` | mno | operation |
//! | `POST /es4/EnableProfile`, `/es4/DisableProfile`, `/es4/DeleteProfile`, `/es4/SetFallBackAttribute` | mno | operation |
//! | `GET /operations/{id}[?waitSeconds=N]` | the operation's requester | — |
//! | `GET /status` | any | — |
//!
//! An "operation" touches a card: it is checked first (unknown EID, ICCID, a card not
//! reached: `Failed` at once), then answered `202` and run in the EID's turn, one operation per
//! card at a time, each in a thread of its own with its own registry connection.
//!
//! Several instances may share one registry (PostgreSQL) and one fleet: an operation first
//! takes the card's lease in the registry ([`Registry::claim_lease`]; waiting, with backoff,
//! while another instance holds it, at most until the operation's validity period ends),
//! renews it while it runs and gives it back after, the card closed first. An instance that
//! dies leaves a lease that expires after [`LEASE_TTL`].

use super::binding::{self, es5_error, registry_error};
use super::cards::Cards;
use super::envelope::{self, reason, subject, FunctionError, FunctionRequest, RequestHeader};
use super::http::{Handler, Request, Response};
use super::lease::{self, LEASE_TTL};
use super::operations::{Begun, Operations};
use super::{reply_to, Function, Kind};
use crate::hexfmt;
use crate::sm_sr::es5::{self, Es5Error, Es5Link, ProfileChange};
use crate::sm_sr::link::{self, LinkKind};
use crate::sm_sr::registry::{IsdpRecord, Registry, RegistryPool};
use crate::sm_sr::{eis::Eis, relay};
use crate::tls::Role;
use crate::transport::count::Counts;
use serde_json::{json, Value};
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The functions, their interface, the role that may call them and their kind.
pub const FUNCTIONS: &[Function] = &[
    Function::new("es1", "RegisterEIS", Role::Eum, Kind::Answer),
    Function::new("es3", "GetEIS", Role::SmDp, Kind::Answer),
    Function::new("es3", "CreateISDP", Role::SmDp, Kind::Operation),
    Function::new("es3", "SendData", Role::SmDp, Kind::Operation),
    Function::new("es3", "ProfileDownloadCompleted", Role::SmDp, Kind::Answer),
    Function::new("es3", "EnableProfile", Role::SmDp, Kind::Operation),
    Function::new("es3", "DisableProfile", Role::SmDp, Kind::Operation),
    Function::new("es3", "DeleteISDP", Role::SmDp, Kind::Operation),
    Function::new("es3", "UpdatePolicyRules", Role::SmDp, Kind::Answer),
    Function::new("es4", "GetEIS", Role::Mno, Kind::Answer),
    Function::new("es4", "AuditEIS", Role::Mno, Kind::Operation),
    Function::new("es4", "EnableProfile", Role::Mno, Kind::Operation),
    Function::new("es4", "DisableProfile", Role::Mno, Kind::Operation),
    Function::new("es4", "DeleteProfile", Role::Mno, Kind::Operation),
    Function::new("es4", "SetFallBackAttribute", Role::Mno, Kind::Operation),
    Function::new("es4", "UpdatePolicyRules", Role::Mno, Kind::Answer),
];

/// How the SM-SR service runs.
#[derive(Debug, Clone)]
pub struct SmSrConfig {
    /// Its name: the CN of its certificate, `functionRequesterIdentifier` of its answers.
    pub name: String,
    /// The registry.
    pub db: PathBuf,
    /// How ES5 reaches the cards.
    pub es5: LinkKind,
    /// The client configuration for `replyTo` deliveries (its own certificate).
    pub client: Option<Arc<rustls::ClientConfig>>,
}

/// The SM-SR service.
#[derive(Debug)]
pub struct SmSr {
    config: SmSrConfig,
    /// This instance, as the owner of the card leases it takes: its name, process and a
    /// random part.
    instance: String,
    cards: Arc<Cards>,
    ops: Operations,
    stopping: AtomicBool,
    /// ES5 links kept open for the next operation on the card (`moreToDo`).
    sessions: Mutex<HashMap<Eid, Session>>,
    /// The registry connections, kept open between requests.
    registries: Arc<RegistryPool>,
    /// The SCP80 links' connections, for their counter reservations: a pool of their own,
    /// since a link takes one while its operation holds one of `registries`.
    counters: Arc<RegistryPool>,
    /// The cards with an operation running here, whose leases the keeper renews.
    running: Arc<lease::RunningSet>,
}

/// The most registry connections an instance opens for its requests and card operations, and
/// for its SCP80 counters: with a PostgreSQL registry, two instances and their SM-DPs stay
/// under the server's default of 100 clients.
const REGISTRY_CONNECTIONS: usize = 20;
const COUNTER_CONNECTIONS: usize = 6;

/// How long an ES5 link kept open for `moreToDo` waits for the next operation.
const SESSION_IDLE: Duration = Duration::from_secs(60);

/// An ES5 link kept open.
struct Session {
    link: Box<dyn Es5Link + Send>,
    since: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Session(open {:?})", self.since.elapsed())
    }
}

/// A card operation: what it does once it holds the card, with the registry and an ES5 link.
type CardWork =
    Box<dyn FnOnce(&mut Registry, &mut dyn Es5Link) -> Result<Value, FunctionError> + Send>;

impl SmSr {
    /// The service over `cards`; the registry is opened (and migrated) once now. Blocking: with
    /// a PostgreSQL registry, call it outside async code (before the runtime, or in
    /// `spawn_blocking`; see [`crate::db`]).
    pub fn new(config: SmSrConfig, cards: Arc<Cards>) -> Result<Arc<Self>, FunctionError> {
        let registries = Registry::pool(&config.db, REGISTRY_CONNECTIONS);
        let counters = Registry::pool(&config.db, COUNTER_CONNECTIONS);
        // Opened (and migrated) now: a registry that cannot be used stops the start.
        registries.get().map_err(|e| registry_error(&e))?;
        let mut nonce = [0u8; 4];
        getrandom::getrandom(&mut nonce).map_err(|e| FunctionError::execution(e.to_string()))?;
        let instance = format!(
            "{}/{}/{}",
            config.name,
            std::process::id(),
            hexfmt::upper(&nonce)
        );
        let me = Arc::new(Self {
            instance,
            config,
            cards,
            ops: Operations::default(),
            stopping: AtomicBool::new(false),
            sessions: Mutex::default(),
            registries,
            counters,
            running: Arc::default(),
        });
        keep_leases(Arc::downgrade(&me));
        Ok(me)
    }

    /// Its request handler.
    pub fn handler(self: &Arc<Self>) -> Handler {
        let me = Arc::clone(self);
        Arc::new(move |req| {
            let me = Arc::clone(&me);
            Box::pin(async move { me.handle(req).await })
        })
    }

    /// The owner name of the card leases this instance takes.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The cards it reaches.
    pub fn cards(&self) -> &Arc<Cards> {
        &self.cards
    }

    /// Stops starting card operations (those queued fail with `4.2`, nothing sent) and waits
    /// up to `limit` for the running ones; returns how many were still running.
    pub async fn shut_down(&self, limit: Duration) -> u64 {
        self.stopping.store(true, Ordering::SeqCst);
        self.ops.drain(limit).await
    }

    async fn handle(self: Arc<Self>, req: Request) -> Response {
        match (req.method.as_str(), req.path.as_str()) {
            ("GET", "/status") => Response::new(200, self.status()),
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

    fn status(&self) -> Value {
        json!({
            "service": "sm-sr",
            "name": self.config.name,
            "instance": self.instance,
            "cards": self.cards.list(),
            "readersWatched": self.cards.watches_readers(),
            "operationsInFlight": self.ops.in_flight(),
            "stopping": self.stopping.load(Ordering::SeqCst),
        })
    }

    async fn call(self: Arc<Self>, f: &'static Function, req: Request) -> Response {
        let request = match super::authorize(f, &req) {
            Ok(r) => r,
            Err(resp) => return resp,
        };
        let name = self.config.name.clone();
        let call = request.header.function_call_identifier.clone();
        if f.kind == super::Kind::Operation {
            if let Some(s) = self
                .ops
                .find(&request.header.function_requester_identifier, &call)
            {
                return super::accepted(&request.header, &s.operation_id, s.state);
            }
        }
        let me = Arc::clone(&self);
        let checked =
            tokio::task::spawn_blocking(move || me.check(f, &request).map(|p| (p, request))).await;
        let (prepared, request) = match checked {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => return super::failed(&name, &call, &e),
            Err(e) => return super::failed(&name, &call, &FunctionError::execution(e.to_string())),
        };
        match prepared {
            Prepared::Answer(fields) => Response::new(200, envelope::success(&name, &call, fields)),
            Prepared::Operation { eid, work } => {
                let keep = request.flag("moreToDo").unwrap_or(false);
                self.start(f, request.header, eid, work, keep)
            }
        }
    }

    /// Starts (or finds, for a repeated call) the operation; answers `202`.
    fn start(
        self: Arc<Self>,
        f: &'static Function,
        header: RequestHeader,
        eid: Eid,
        work: CardWork,
        keep: bool,
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
            let turn = me.cards.queue(&eid.to_string()).await;
            let name = me.config.name.clone();
            let call = head.function_call_identifier.clone();
            let processing_start = crate::trace::now_rfc3339();
            let waited = accepted.elapsed();
            let mut answer = if let Some(v) = head
                .validity_period
                .filter(|v| waited > Duration::from_secs(*v))
            {
                envelope::expired(&name, &call, waited, v)
            } else if me.stopping.load(Ordering::SeqCst) {
                envelope::failure(
                    &name,
                    &call,
                    &FunctionError::execution(
                        "the SM-SR is shutting down; nothing was sent to the card: call again",
                    ),
                )
            } else {
                me.ops.running(&op);
                let worker = Arc::clone(&me);
                let started = Instant::now();
                let deadline = accepted
                    + head
                        .validity_period
                        .map_or(lease::LEASE_WAIT, Duration::from_secs);
                let result = tokio::task::spawn_blocking(move || {
                    worker.run_on_card(&eid, work, keep, deadline)
                })
                .await;
                tracing::info!(
                    "{} {} done in {:.1} ms",
                    f.name,
                    op,
                    started.elapsed().as_secs_f64() * 1000.0
                );
                match result {
                    Ok(Ok(fields)) => envelope::success(&name, &call, fields),
                    Ok(Err(e)) => envelope::failure(&name, &call, &e),
                    Err(e) => envelope::failure(
                        &name,
                        &call,
                        &FunctionError::execution(format!(
                            "the operation stopped: {e}; `AuditEIS` reconciles the card"
                        )),
                    ),
                }
            };
            envelope::stamp(&mut answer, &processing_start, &crate::trace::now_rfc3339());
            drop(turn);
            me.ops.finish(&op, answer.clone());
            if let (Some(url), Some(tls)) = (&head.reply_to, &me.config.client) {
                reply_to(url, f.name, &answer, tls.clone()).await;
            }
        });
        super::accepted(&header, &id, super::operations::OpState::Queued)
    }

    /// Runs `work` on the card `eid` (blocking): registry opened here, the card's lease taken
    /// (waiting for another instance's until `deadline`), the ES5 link taken from the session
    /// `moreToDo` kept open or opened now, and kept open after it when `keep` (and the work
    /// succeeded; the lease is then renewed as long as the session stays open,
    /// [`keep_sessions`]); otherwise the card is closed and the lease given back. The card exchanges are counted and added to the answer
    /// as `card`.
    fn run_on_card(
        &self,
        eid: &Eid,
        work: CardWork,
        keep: bool,
        deadline: Instant,
    ) -> Result<Value, FunctionError> {
        let start = Instant::now();
        let before = Counts::snapshot();
        let mut registry = self.registries.get().map_err(|e| registry_error(&e))?;
        lease::take(&mut registry, eid, &self.instance, deadline)?;
        let running = self.running.enter(*eid);
        let result = self.drive(&mut registry, eid, work, keep);
        drop(running);
        let kept = keep && result.is_ok();
        let lease = if kept {
            // Renewed by the session keeper while the session stays open.
            registry.renew_lease(eid, &self.instance, LEASE_TTL)
        } else {
            registry.release_lease(eid, &self.instance)
        };
        if let Err(e) = lease {
            tracing::warn!("lease on {eid}: {e}");
        }
        let mut fields = result?;
        let counts = Counts::snapshot().since(before);
        if let Value::Object(m) = &mut fields {
            m.insert(
                "card".into(),
                json!({
                    "ms": start.elapsed().as_secs_f64() * 1000.0,
                    "apdus": counts.exchanges,
                    "bytes": counts.bytes,
                }),
            );
        }
        Ok(fields)
    }

    /// The work on the card, under its lease: the link opened (or the kept one), closed after
    /// unless kept.
    fn drive(
        &self,
        registry: &mut Registry,
        eid: &Eid,
        work: CardWork,
        keep: bool,
    ) -> Result<Value, FunctionError> {
        let kept = lock(&self.sessions)
            .remove(eid)
            .filter(|s| s.since.elapsed() < SESSION_IDLE);
        let mut link = match kept {
            Some(s) => s.link,
            None => {
                let eis = registry.eis(eid).map_err(|e| registry_error(&e))?;
                let card = self.cards.open(&eid.to_string()).map_err(|e| {
                    FunctionError::new(subject::EID, reason::UNAVAILABLE, e.to_string())
                        .about(eid.to_string())
                })?;
                // SCP81 where the configuration asks for it and the EIS gives the card an SCP81
                // key set; SCP80 for the others.
                let kind = match self.config.es5 {
                    LinkKind::Scp81 if eis.isd_r.scp81.is_empty() => LinkKind::Scp80,
                    kind => kind,
                };
                link::open_send(card, &eis, kind, &self.counters).map_err(|e| es5_error(&e))?
            }
        };
        let result = work(registry, link.as_mut());
        if keep && result.is_ok() {
            lock(&self.sessions).insert(
                *eid,
                Session {
                    link,
                    since: Instant::now(),
                },
            );
        }
        result
    }

    /// Checks a request against the registry (blocking) and prepares its answer or its card
    /// work.
    fn check(&self, f: &Function, r: &FunctionRequest) -> Result<Prepared, FunctionError> {
        let mut registry = self.registries.get().map_err(|e| registry_error(&e))?;
        if f.name == "RegisterEIS" {
            let doc = r.body.get("eis").ok_or_else(|| {
                FunctionError::new(
                    subject::FUNCTION_REQUESTER,
                    reason::MISSING,
                    "the mandatory element eis is missing",
                )
            })?;
            let eis = Eis::from_json(&doc.to_string()).map_err(|e| {
                FunctionError::new(subject::EID, reason::INVALID, format!("eis: {e}"))
            })?;
            registry
                .register(&eis, false)
                .map_err(|e| registry_error(&e))?;
            return Ok(Prepared::Answer(json!({"eid": eis.eid})));
        }
        let eid = binding::eid_from(r)?;
        let eis = registry.eis(&eid).map_err(|e| registry_error(&e))?;
        let answer = |fields| Ok(Prepared::Answer(fields));
        match f.name {
            "GetEIS" => return answer(json!({"eis": binding::public_eis(&eis)})),
            "ProfileDownloadCompleted" => {
                // The download is over: an ES5 session kept open for it closes, and the
                // card's lease goes with it (unless an operation of its own holds it now).
                if lock(&self.sessions).remove(&eid).is_some() {
                    let _ = registry.release_lease(&eid, &self.instance);
                }
                let iccid = r.text("iccid")?;
                let pol2 = r.body.get("pol2").map(binding::pol2_from).transpose()?;
                let record = relay::download_completed(&mut registry, &eid, &iccid, pol2.as_ref())
                    .map_err(|e| match e {
                        Es5Error::Input(m) => {
                            FunctionError::new(subject::ICCID, reason::UNKNOWN, m).about(&iccid)
                        }
                        e => es5_error(&e),
                    })?;
                return answer(json!({"isdP": binding::isdp(&record)}));
            }
            "UpdatePolicyRules" => {
                let iccid = r.text("iccid")?;
                let pol2 = binding::pol2_from(r.body.get("pol2").unwrap_or(&Value::Null))?;
                let record = registry
                    .isdp_by_iccid(&eid, &iccid)
                    .map_err(|e| registry_error(&e))?;
                registry
                    .set_profile(&eid, &record.aid, None, None, Some(&pol2.to_json()))
                    .map_err(|e| registry_error(&e))?;
                let record = registry
                    .isdp(&eid, &record.aid)
                    .map_err(|e| registry_error(&e))?;
                return answer(json!({"isdP": binding::isdp(&record)}));
            }
            _ => {}
        }
        if !self.cards.reaches(&eid.to_string()) {
            return Err(FunctionError::new(
                subject::EID,
                reason::UNAVAILABLE,
                format!(
                    "the eUICC {eid} is registered but this SM-SR reaches no such card now (fleet \
                     directory, readers: GET /status lists the cards)"
                ),
            )
            .about(eid.to_string()));
        }
        let work: CardWork = match f.name {
            "CreateISDP" => {
                let iccid = r.text("iccid")?;
                refuse_held(&registry, &eid, &iccid)?;
                let memory = r
                    .opt_number("requiredMemory")?
                    .map(|m| u32::try_from(m).unwrap_or(u32::MAX));
                let e = eid;
                Box::new(move |registry, link| {
                    let cleaned = clean_up(registry, link, &e, &iccid)?;
                    let c = es5::create_isdp(registry, link, &e, Some(&iccid), memory)
                        .map_err(|e| es5_error(&e))?;
                    Ok(json!({"isdPAid": c.aid, "iccid": c.iccid, "cleanedUp": cleaned}))
                })
            }
            "SendData" => {
                let sd_aid = aid_field(r, "sdAid")?;
                let data = hexfmt::parse(&r.text("data")?).map_err(|e| {
                    FunctionError::new(
                        subject::FUNCTION_REQUESTER,
                        reason::INVALID,
                        format!("data: {e}"),
                    )
                })?;
                let e = eid;
                Box::new(move |registry, link| {
                    let answer = relay::send_data(registry, link, &e, &sd_aid, &data)
                        .map_err(|e| es5_error(&e))?;
                    Ok(json!({"euiccResponseData": hexfmt::upper(&answer)}))
                })
            }
            "EnableProfile" | "DisableProfile" | "SetFallBackAttribute" => {
                let record = by_iccid(&registry, &eid, r)?;
                let change = match f.name {
                    "EnableProfile" => ProfileChange::Enable,
                    "DisableProfile" => ProfileChange::Disable,
                    _ => ProfileChange::SetFallback,
                };
                let e = eid;
                Box::new(move |registry, link| change_profile(registry, link, &e, &record, change))
            }
            "DeleteISDP" | "DeleteProfile" => {
                let record = by_iccid(&registry, &eid, r)?;
                let e = eid;
                Box::new(move |registry, link| {
                    es5::delete_isdp(registry, link, &e, &record).map_err(|e| es5_error(&e))?;
                    Ok(json!({"isdPAid": record.aid, "iccid": record.iccid}))
                })
            }
            "AuditEIS" => {
                let e = eid;
                Box::new(move |registry, link| {
                    let audit = es5::audit(registry, link, &e).map_err(|e| es5_error(&e))?;
                    let eis = registry.eis(&e).map_err(|e| registry_error(&e))?;
                    Ok(json!({
                        "eis": binding::public_eis(&eis),
                        "isdPs": binding::isdps(&audit.isdps),
                        "changes": audit.changes,
                        "resources": audit.resources,
                    }))
                })
            }
            other => {
                return Err(FunctionError::execution(format!(
                    "{other} is not served here"
                )))
            }
        };
        Ok(Prepared::Operation { eid, work })
    }
}

/// While the service lives, every third of [`LEASE_TTL`]: renews the leases of the cards with
/// an operation running ([`lease::RunningSet`]) and of those whose ES5 link a `moreToDo`
/// session keeps open, and closes the sessions idle for [`SESSION_IDLE`] (their leases then
/// run out; an operation of this instance that takes one again renews it). An instance that
/// dies so holds no card longer than [`LEASE_TTL`].
fn keep_leases(service: std::sync::Weak<SmSr>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(LEASE_TTL / 3);
        let Some(me) = service.upgrade() else {
            return;
        };
        let mut cards: Vec<Eid> = {
            let mut sessions = lock(&me.sessions);
            sessions.retain(|_, s| s.since.elapsed() < SESSION_IDLE);
            sessions.keys().copied().collect()
        };
        cards.extend(me.running.eids());
        cards.sort_unstable();
        cards.dedup();
        if cards.is_empty() {
            continue;
        }
        let mut registry = match me.registries.get() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("card leases not renewed: {e}");
                continue;
            }
        };
        for eid in cards {
            match registry.renew_lease(&eid, &me.instance, LEASE_TTL) {
                Ok(true) => {}
                Ok(false) => tracing::warn!("lease on {eid} lost: it expired"),
                Err(e) => {
                    tracing::warn!("lease on {eid} not renewed: {e}");
                    break;
                }
            }
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a checked request leads to.
enum Prepared {
    Answer(Value),
    Operation { eid: Eid, work: CardWork },
}

fn aid_field(r: &FunctionRequest, field: &str) -> Result<Aid, FunctionError> {
    let text = r.text(field)?;
    hexfmt::parse(&text)
        .ok()
        .and_then(|b| Aid::new(&b).ok())
        .ok_or_else(|| {
            FunctionError::new(
                subject::FUNCTION_REQUESTER,
                reason::INVALID,
                format!("{field} {text:?} is not an AID (5 to 16 bytes in hex)"),
            )
        })
}

/// The ISD-P holding the request's `iccid` on `eid`.
fn by_iccid(
    registry: &Registry,
    eid: &Eid,
    r: &FunctionRequest,
) -> Result<IsdpRecord, FunctionError> {
    let iccid = r.text("iccid")?;
    registry
        .isdp_by_iccid(eid, &iccid)
        .map_err(|e| registry_error(&e))
}

/// Refuses (`8.2.1`/`3.3`) an ICCID the registry has on the card in an ISD-P holding a
/// profile with nothing pending; an ISD-P of it whose download may have been cut is settled on
/// the card by [`clean_up`].
fn refuse_held(registry: &Registry, eid: &Eid, iccid: &str) -> Result<(), FunctionError> {
    let isdps = registry.isdps(eid).map_err(|e| registry_error(&e))?;
    match es5::iccid_holder(&isdps, iccid) {
        Some(r) if r.pending.is_none() => Err(es5_error(&Es5Error::IccidInUse {
            eid: *eid,
            iccid: iccid.to_owned(),
            aid: r.aid.clone(),
        })),
        _ => Ok(()),
    }
}

/// Before CreateISDP: an earlier attempt at this ICCID that a crash or a lost link cut short
/// is settled from the card (an audit, when one of its operations is still pending), then
/// refused if the profile is on the card after all (`3.3`), or its ISD-P, which holds no
/// profile, deleted. Returns the ISD-Ps deleted.
fn clean_up(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    iccid: &str,
) -> Result<Vec<String>, FunctionError> {
    let mine = |registry: &Registry| -> Result<Vec<IsdpRecord>, FunctionError> {
        Ok(registry
            .isdps(eid)
            .map_err(|e| registry_error(&e))?
            .into_iter()
            .filter(|r| r.iccid.as_deref() == Some(iccid))
            .collect())
    };
    if mine(registry)?.iter().any(|r| r.pending.is_some()) {
        es5::audit(registry, link, eid).map_err(|e| es5_error(&e))?;
    }
    es5::check_iccid_free(registry, eid, iccid).map_err(|e| es5_error(&e))?;
    let mut cleaned = Vec::new();
    for r in mine(registry)? {
        es5::delete_isdp(registry, link, eid, &r).map_err(|e| es5_error(&e))?;
        cleaned.push(r.aid.to_string());
    }
    Ok(cleaned)
}

/// A profile switch (with the reset that applies it) or the Fallback Attribute, then the
/// card's notifications.
fn change_profile(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    record: &IsdpRecord,
    change: ProfileChange,
) -> Result<Value, FunctionError> {
    let reset = change != ProfileChange::SetFallback;
    let changed = es5::change_profile(registry, link, eid, record, change, reset)
        .map_err(|e| es5_error(&e))?;
    let notifications = if reset {
        es5::handle_notifications(registry, link, eid)
            .map_err(|e| es5_error(&e))?
            .len()
    } else {
        0
    };
    Ok(json!({
        "isdPAid": changed.aid,
        "iccid": record.iccid,
        "isdPs": binding::isdps(&changed.isdps),
        "autoDeleted": changed.auto_deleted,
        "autoDeleteKept": changed.auto_delete_kept,
        "notificationsConfirmed": notifications,
    }))
}

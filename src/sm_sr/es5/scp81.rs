//! `--es5 scp81`: scripts travel over HTTPS with a pre-shared key (GP Card Specification
//! Amendment B, SGP.02 §2.4.3 ES5 over HTTPS), the card being the TLS client and this SM-SR the
//! server, and this tool the terminal relaying the card's Bearer Independent Protocol channel.
//!
//! A session:
//! 1. TERMINAL PROFILE announcing BIP (once per card reset); the card subscribes to the Data
//!    available and Channel status events (SET UP EVENT LIST).
//! 2. The trigger: an SCP80 packet (the ISD-R's SCP80 key set, as `--es5 scp80`) to the ISD-R's
//!    TAR whose secured data is the administration session triggering parameters
//!    ([`AdminTrigger`]: the OPEN CHANNEL parameters pointing at the admin server, the PSK
//!    identity and key set, the admin host, agent and URI). The PoR says whether the card took
//!    it ([`TRIGGER_ANSWER`]).
//! 3. The card opens the channel, the PSK-TLS handshake runs through it, the card POSTs to the
//!    admin URI ([`crate::sm_sr::admin`]).
//! 4. Each script of the ES5 function is the answer to a POST (`200`, for an ISD-P with
//!    `X-Admin-Targeted-Application`); its response script comes in the next POST.
//! 5. When the link is done (dropped, or before a reset), `204 No Content` ends the session: the
//!    card closes TLS and the channel.
//!
//! The session stays open between the scripts of one link, so a whole profile download is one
//! handshake.

use super::scp80::Scp80Link;
use super::{Es5Error, Es5Link};
use crate::sm_sr::admin::{AdminServer, PskEntry, Reply, ServerEvent, ADMIN_PATH};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::registry::RegistryPool;
use crate::transport::bip::{Incoming, Notify, ProactiveWatch, Terminal};
use crate::transport::Transport;
use smsr_proto::cat::OpenChannel;
use smsr_proto::gp::aid::Aid;
use smsr_proto::ota::response::ResponseScript;
use smsr_proto::ota::script::CommandScript;
use smsr_proto::scp81::{admin_from, AdminRequest, AdminTrigger, ScriptStatus, TriggerSecurity};
use smsr_proto::{CommandApdu, ResponseApdu};
use std::collections::{HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

/// The PoR data of a trigger, read as a compact response (ETSI TS 102 226 §5.1.2: number of
/// commands, the status word): `01 90 00` when the card opens the session, else the status
/// word of its refusal (`6A80` malformed parameters, `6A88` unknown key set, `6985` a session
/// is already running). GP Amendment B gives the trigger no answer of its own; this reading
/// is listed in the README's assumptions.
pub const TRIGGER_ANSWER: [u8; 3] = [0x01, 0x90, 0x00];

/// The channel buffer the trigger asks for (bytes).
pub const BUFFER_SIZE: u16 = 1500;

/// Bytes of commands per script over SCP81: several SCP03t segments travel in one HTTP
/// response (GP Amendment B scripts may hold several commands; the bound keeps a script within
/// what a card buffers in RAM, a choice listed in the README's assumptions).
pub const SCRIPT_LIMIT: usize = 8 * 1024;

/// How long one step of a session (the card's answer to a script) may take.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// The variable that has a link cut its TCP connection after N POSTs of the card (the fault
/// campaign's "link lost mid-session"; `SMSR_SCP81_CUT=3`).
pub const CUT_VARIABLE: &str = "SMSR_SCP81_CUT";

/// What wakes the link while it waits.
#[derive(Debug)]
enum Wake {
    Socket(Incoming),
    Server(ServerEvent),
}

/// An SCP81 link to the ISD-R of one card.
pub struct Scp81Link<T: Transport> {
    push: Scp80Link<ProactiveWatch<T>>,
    terminal: Terminal,
    wake: Receiver<Wake>,
    server: AdminServer,
    trigger: Vec<u8>,
    isd_r: Aid,
    open: bool,
    profiled: bool,
    posts: VecDeque<AdminRequest>,
    /// Why the session failed: (a PSK-TLS handshake refusal, the reason).
    failure: Option<(bool, String)>,
    ended: bool,
    /// Cut the TCP connection after this many POSTs (tests of a link lost mid-session).
    cut_after: Option<usize>,
    post_count: usize,
}

impl<T: Transport> std::fmt::Debug for Scp81Link<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scp81Link")
            .field("server", &self.server.addr())
            .field("open", &self.open)
            .finish_non_exhaustive()
    }
}

fn session_error(detail: impl Into<String>) -> Es5Error {
    Es5Error::Session(detail.into())
}

/// The OPEN CHANNEL parameters of the trigger: default bearer, TCP client to `server`.
fn connection_tlvs(server: SocketAddr) -> Result<Vec<u8>, Es5Error> {
    let ip = match server {
        SocketAddr::V4(a) => *a.ip(),
        SocketAddr::V6(_) => Ipv4Addr::LOCALHOST,
    };
    let open = OpenChannel::tcp_client(1, ip, server.port(), BUFFER_SIZE);
    let command = open
        .to_command()
        .map_err(|e| Es5Error::Input(format!("OPEN CHANNEL parameters: {e}")))?;
    let mut out = Vec::new();
    for t in &command.tlvs {
        t.push_to(&mut out)
            .map_err(|e| Es5Error::Input(format!("OPEN CHANNEL parameters: {e}")))?;
    }
    Ok(out)
}

impl<T: Transport> Scp81Link<T> {
    /// A link with the EIS's first SCP81 key set; the trigger travels with its first SCP80 key
    /// set (counters in a registry of `registries`).
    pub fn new(transport: T, eis: &Eis, registries: &Arc<RegistryPool>) -> Result<Self, Es5Error> {
        let k = eis.isd_r.scp81.first().ok_or_else(|| {
            Es5Error::Input(format!(
                "the EIS of {} has no ISD-R SCP81 key set (isd_r.scp81: kvn, kid, psk), which \
                 --es5 scp81 needs; add it and register the EIS again with --replace, or use \
                 --es5 scp80",
                eis.eid
            ))
        })?;
        let psk = k
            .psk
            .bytes()
            .map_err(|e| Es5Error::Input(format!("EIS SCP81 PSK: {e}")))?;
        let isd_r = eis.isd_r_aid();
        let eid = eis.eid_bytes();
        let identity = eis.scp81_identity(k);
        let (watch, pending) = ProactiveWatch::new(transport);
        let push = Scp80Link::new(watch, eis, registries).map_err(|e| match e {
            Es5Error::Input(m) => Es5Error::Input(format!(
                "--es5 scp81 wakes the card with an SCP80 trigger: {m}"
            )),
            other => other,
        })?;
        let (tx, wake) = mpsc::channel::<Wake>();
        let tx = Arc::new(Mutex::new(tx));
        let server_tx = Arc::clone(&tx);
        let server = AdminServer::start(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            HashMap::from([(
                identity.clone(),
                PskEntry {
                    eid,
                    psk: Zeroizing::new(psk.to_vec()),
                },
            )]),
            move |event| {
                server_tx
                    .lock()
                    .map(|t| t.send(Wake::Server(event)).is_ok())
                    .unwrap_or(false)
            },
        )
        .map_err(|e| session_error(e.to_string()))?;
        let socket_tx = Arc::clone(&tx);
        let notify: Notify = Arc::new(move |incoming| {
            socket_tx
                .lock()
                .map(|t| t.send(Wake::Socket(incoming)).is_ok())
                .unwrap_or(false)
        });
        let terminal = Terminal::new(server.addr(), notify, pending);
        let trigger = AdminTrigger {
            connection: Some(connection_tlvs(server.addr())?),
            security: Some(TriggerSecurity {
                psk_identity: identity,
                kvn: k.kvn,
                kid: k.kid,
            }),
            retry: None,
            admin_host: Some(server.addr().ip().to_string()),
            agent_id: Some(admin_from(&eid, &isd_r)),
            admin_uri: Some(ADMIN_PATH.to_owned()),
        }
        .to_bytes()
        .map_err(|e| Es5Error::Input(format!("the SCP81 trigger: {e}")))?;
        Ok(Self {
            push,
            terminal,
            wake,
            server,
            trigger,
            isd_r,
            open: false,
            profiled: false,
            posts: VecDeque::new(),
            failure: None,
            ended: false,
            cut_after: None,
            post_count: 0,
        })
    }

    /// Cuts the TCP connection of the session after `posts` POSTs from the card (tests).
    #[must_use]
    pub fn cutting_after(mut self, posts: usize) -> Self {
        self.cut_after = Some(posts);
        self
    }

    /// The admin server's address.
    pub fn server_addr(&self) -> SocketAddr {
        self.server.addr()
    }

    fn card(&mut self) -> &mut ProactiveWatch<T> {
        self.push.transport_mut()
    }

    fn pending(&self) -> bool {
        self.terminal.has_work()
    }

    /// Drives the card and the terminal until `done` holds, the session fails, or
    /// [`STEP_TIMEOUT`] passes.
    /// A failure ends the session: the link is marked closed and the channel cut (no
    /// session to close politely).
    fn pump(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), Es5Error> {
        let pumped = self.drive(done);
        if pumped.is_err() {
            self.open = false;
            self.terminal.cut();
        }
        pumped
    }

    fn drive(&mut self, done: impl Fn(&Self) -> bool) -> Result<(), Es5Error> {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let Self { push, terminal, .. } = self;
            match terminal.step(push.transport_mut()) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    return Err(match e {
                        crate::transport::bip::BipError::Transport(t) => Es5Error::Transport(t),
                        other => session_error(format!("BIP: {other}")),
                    });
                }
            }
            while let Ok(w) = self.wake.try_recv() {
                self.take(w);
            }
            if self.pending() {
                continue;
            }
            if done(self) {
                return Ok(());
            }
            if let Some((security, f)) = &self.failure {
                if !self.terminal.channel_open() {
                    return Err(if *security {
                        Es5Error::TlsRefused(f.clone())
                    } else {
                        session_error(f.clone())
                    });
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(session_error(format!(
                    "the card did not answer within {} s (the BIP channel is {})",
                    STEP_TIMEOUT.as_secs(),
                    if self.terminal.channel_open() {
                        "open"
                    } else {
                        "closed"
                    }
                )));
            }
            match self.wake.recv_timeout(deadline - now) {
                Ok(w) => self.take(w),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(session_error("the admin server stopped"))
                }
            }
        }
    }

    fn take(&mut self, wake: Wake) {
        match wake {
            Wake::Socket(i) => self.terminal.on_socket(i),
            Wake::Server(ServerEvent::Connected { identity, cipher }) => {
                tracing::debug!("SCP81: card connected as {identity:?} with {cipher}");
            }
            Wake::Server(ServerEvent::Post(p)) => {
                self.post_count += 1;
                if self.cut_after.is_some_and(|n| self.post_count > n) {
                    self.terminal.cut();
                    self.failure =
                        Some((false, "the TCP connection of the session was cut".into()));
                    return;
                }
                self.posts.push_back(p);
            }
            Wake::Server(ServerEvent::Failed(e)) => {
                self.open = false;
                self.failure = Some((false, e));
            }
            Wake::Server(ServerEvent::HandshakeFailed(e)) => {
                self.open = false;
                self.failure = Some((true, e));
            }
            Wake::Server(ServerEvent::Ended) => {
                self.open = false;
                self.ended = true;
            }
        }
    }

    /// Opens the session: TERMINAL PROFILE, the trigger, up to the card's first POST.
    fn ensure_open(&mut self) -> Result<(), Es5Error> {
        // News from while the link sat idle: a session the server ended (timeout).
        while let Ok(w) = self.wake.try_recv() {
            self.take(w);
        }
        if self.open {
            return Ok(());
        }
        if self.terminal.channel_open() {
            // The card still closes an earlier session.
            self.pump(|s| !s.terminal.channel_open())?;
        }
        self.failure = None;
        self.ended = false;
        self.posts.clear();
        if !self.profiled {
            let Self { push, terminal, .. } = self;
            terminal
                .profile(push.transport_mut())
                .map_err(|e| session_error(format!("BIP: {e}")))?;
            self.profiled = true;
            self.pump(|_| true)?;
        }
        let tar = self.isd_r.tar().unwrap_or([0, 0, 1]);
        let trigger = self.trigger.clone();
        let answer = self.push.push(tar, &trigger)?;
        match answer.as_slice() {
            a if a == TRIGGER_ANSWER => {}
            [0x01, sw1, sw2] => {
                let sw = smsr_proto::StatusWord::from_u16(u16::from_be_bytes([*sw1, *sw2]));
                return Err(Es5Error::Refused {
                    what: "the SCP81 session trigger".into(),
                    sw,
                    hint: match sw.to_u16() {
                        0x6A88 => ": the card has no SCP81 key set with the EIS's KVN/KID".into(),
                        0x6985 => ": a session is already running on the card".into(),
                        _ => String::new(),
                    },
                });
            }
            other => {
                return Err(Es5Error::BadResponse(format!(
                    "the PoR of the SCP81 trigger carries {} (expected {})",
                    hex::encode_upper(other),
                    hex::encode_upper(TRIGGER_ANSWER)
                )))
            }
        }
        self.open = true;
        self.pump(|s| !s.posts.is_empty())?;
        let first = self
            .posts
            .pop_front()
            .ok_or_else(|| session_error("no POST"))?;
        if !first.body.is_empty() {
            return Err(Es5Error::BadResponse(
                "the card's first POST of the session carries a body".into(),
            ));
        }
        Ok(())
    }

    /// Sends one command script and returns the card's response script (bytes).
    fn exchange(&mut self, targeted: Option<Aid>, body: Vec<u8>) -> Result<Vec<u8>, Es5Error> {
        self.ensure_open()?;
        let what = targeted
            .as_ref()
            .map_or_else(|| "the ISD-R".to_owned(), |a| a.to_string());
        if !self.server.reply(Reply::Script { targeted, body }) {
            self.open = false;
            return Err(session_error("the admin server stopped"));
        }
        self.pump(|s| !s.posts.is_empty())?;
        let post = self
            .posts
            .pop_front()
            .ok_or_else(|| session_error("no POST"))?;
        match post.script_status {
            Some(ScriptStatus::Ok) | None => Ok(post.body),
            Some(status) => Err(Es5Error::BadResponse(format!(
                "the card did not run the script for {what}: X-Admin-Script-Status {}",
                status.as_str()
            ))),
        }
    }

    /// Ends the session with `204` and lets the card close the channel.
    pub fn close(&mut self) -> Result<(), Es5Error> {
        if !self.open {
            return Ok(());
        }
        self.open = false;
        if !self.server.reply(Reply::End) {
            return Err(session_error("the admin server stopped"));
        }
        self.pump(|s| s.ended && !s.terminal.channel_open())
    }
}

impl<T: Transport> Drop for Scp81Link<T> {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            tracing::debug!("closing the SCP81 session: {e}");
        }
    }
}

impl<T: Transport> Es5Link for Scp81Link<T> {
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error> {
        let script = CommandScript::of_apdus(commands.iter().cloned());
        let body = script
            .to_bytes()
            .map_err(|e| Es5Error::Input(format!("the command script: {e}")))?;
        let answer = self.exchange(None, body)?;
        let response = ResponseScript::parse(&answer)
            .map_err(|e| Es5Error::BadResponse(format!("the response script: {e}")))?;
        Ok(response.response_apdus().cloned().collect())
    }

    fn run_script(
        &mut self,
        target: &Aid,
        script: &CommandScript,
    ) -> Result<ResponseScript, Es5Error> {
        let body = script
            .to_bytes()
            .map_err(|e| Es5Error::Input(format!("the command script: {e}")))?;
        let targeted = (target != &self.isd_r).then(|| target.clone());
        let answer = self.exchange(targeted, body)?;
        ResponseScript::parse(&answer)
            .map_err(|e| Es5Error::BadResponse(format!("the response script: {e}")))
    }

    fn script_limit(&self) -> usize {
        SCRIPT_LIMIT
    }

    fn reset(&mut self) -> Result<(), Es5Error> {
        let closed = self.close();
        self.profiled = false;
        self.card().reset()?;
        closed
    }
}

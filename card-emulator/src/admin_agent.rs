//! The ISD-R's SCP81 admin agent (GP Card Specification Amendment B, SGP.02 ES5 over HTTPS):
//! on a trigger it opens a BIP channel through the terminal (ETSI TS 102 223 OPEN CHANNEL, SEND
//! DATA, RECEIVE DATA, CLOSE CHANNEL), runs a TLS 1.2 client with the SCP81 pre-shared key
//! over it, POSTs to the admin server, runs each command script it gets exactly as an SCP80
//! packet's (on the ISD-R, or on the ISD-P `X-Admin-Targeted-Application` names), POSTs the
//! response script, and closes the channel when the server answers `204 No Content`.
//!
//! The TLS client is OpenSSL's, driven without a socket: its bytes go to an in-memory pipe
//! ([`Pipe`]) the card fills from RECEIVE DATA and empties into SEND DATA.
//!
//! What the agent refuses (the trigger's answer, see `ota.rs`): parameters that do not decode
//! (`6A80`), a key set the ISD-R does not have or no security parameters (`6A88`), a trigger
//! while a session runs (`6985`). A failed handshake (wrong PSK) ends the session before any
//! script: the card closes the channel. A script for an application the card does not have is
//! answered `X-Admin-Script-Status: unknown-application`.

use crate::state::Scp81KeySet;
use openssl::ssl::{
    ErrorCode, HandshakeError, MidHandshakeSslStream, Ssl, SslContext, SslMethod, SslStream,
    SslVerifyMode, SslVersion,
};
use smsr_proto::cat::{
    self, CloseChannel, CommandDetails, Event, OpenChannel, Proactive, ProactiveCommand,
    ReceiveData, SendData, TerminalResponse,
};
use smsr_proto::gp::aid::Aid;
use smsr_proto::ota::executor::{execute_bytes, ScriptTarget};
use smsr_proto::scp81::{
    admin_from, AdminRequest, AdminResponse, AdminTrigger, MessageReader, ScriptStatus,
};
use smsr_proto::StatusWord;
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use zeroize::Zeroizing;

/// The channel buffer the card asks for when the trigger gives no OPEN CHANNEL parameters.
pub const DEFAULT_BUFFER: u16 = 1500;

/// What the agent needs from the card to run a script.
pub(crate) trait AgentTarget: ScriptTarget {
    /// Addresses the next script to `aid` (`None`: the ISD-R); `false` when the card has no
    /// such application.
    fn address(&mut self, aid: Option<&Aid>) -> bool;
}

/// The TLS client's transport: bytes from the terminal in, bytes for the terminal out.
#[derive(Debug, Default)]
pub struct Pipe {
    incoming: VecDeque<u8>,
    outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(std::io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.incoming.len());
        for (dst, src) in buf.iter_mut().zip(self.incoming.drain(..n)) {
            *dst = src;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

enum Tls {
    /// Before the channel is open.
    Ready(Ssl),
    Handshaking(MidHandshakeSslStream<Pipe>),
    Open(SslStream<Pipe>),
    Done,
}

impl Tls {
    fn pipe(&mut self) -> Option<&mut Pipe> {
        match self {
            Self::Handshaking(m) => Some(m.get_mut()),
            Self::Open(s) => Some(s.get_mut()),
            Self::Ready(_) | Self::Done => None,
        }
    }
}

/// How a session ended, for the card's log and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The server ended it with `204`.
    Completed,
    /// The terminal could not open the channel.
    NoChannel,
    /// The TLS handshake failed (wrong PSK, no common suite).
    Handshake(String),
    /// The link dropped, the server closed, or its answer was not Amendment B HTTP.
    Broken(String),
}

/// An SCP81 session of the ISD-R.
pub(crate) struct Agent {
    number: u8,
    open: OpenChannel,
    tls: Tls,
    channel: Option<u8>,
    buffer: usize,
    /// TLS bytes waiting for SEND DATA.
    outbox: VecDeque<u8>,
    /// Bytes stored in the terminal's Tx buffer, not yet sent.
    unflushed: usize,
    /// Bytes the terminal holds for the card.
    to_receive: usize,
    http: MessageReader,
    uri: String,
    host: String,
    from: String,
    closing: bool,
    sent: Option<Proactive>,
    pending: Option<Vec<u8>>,
    ending: Option<Ending>,
    /// Scripts run in this session.
    pub(crate) scripts: usize,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("channel", &self.channel)
            .field("closing", &self.closing)
            .field("ending", &self.ending)
            .finish_non_exhaustive()
    }
}

/// The TLS 1.2 PSK client with `identity` and `psk`.
fn client(identity: Vec<u8>, psk: Zeroizing<Vec<u8>>) -> Result<Ssl, openssl::error::ErrorStack> {
    let mut b = SslContext::builder(SslMethod::tls_client())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_max_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_cipher_list(smsr_proto::scp81::TLS_CIPHERS)?;
    b.set_verify(SslVerifyMode::NONE);
    b.set_psk_client_callback(move |_ssl, _hint, id_out, psk_out| {
        // The identity goes out as a NUL-terminated C string.
        let (Some(id_dst), Some(psk_dst)) = (
            id_out.get_mut(..=identity.len()),
            psk_out.get_mut(..psk.len()),
        ) else {
            return Ok(0);
        };
        let (id, nul) = id_dst.split_at_mut(identity.len());
        id.copy_from_slice(&identity);
        nul.fill(0);
        psk_dst.copy_from_slice(&psk);
        Ok(psk.len())
    });
    Ssl::new(&b.build())
}

/// The OPEN CHANNEL the card sends when the trigger has no connection parameters: default
/// bearer, TCP client to 127.0.0.1:443.
fn default_open() -> OpenChannel {
    OpenChannel::tcp_client(1, Ipv4Addr::LOCALHOST, 443, DEFAULT_BUFFER)
}

/// The trigger's OPEN CHANNEL parameters (`84`, CAT TLVs) read as an OPEN CHANNEL command.
fn open_from(connection: &[u8]) -> Result<OpenChannel, cat::CatError> {
    let command = ProactiveCommand {
        details: CommandDetails {
            number: 1,
            kind: cat::command_type::OPEN_CHANNEL,
            qualifier: 0x01,
        },
        destination: cat::device::TERMINAL,
        tlvs: cat::parse_ctlvs(connection)?,
    };
    match Proactive::parse(&command.to_bytes()?)? {
        Proactive::OpenChannel(open) => Ok(open),
        _ => Err(cat::CatError::Invalid("not an OPEN CHANNEL")),
    }
}

impl Agent {
    /// Starts a session for `trigger` with the ISD-R's SCP81 key sets; the status word of a
    /// refusal.
    pub(crate) fn start(
        trigger: &AdminTrigger,
        keysets: &[Scp81KeySet],
        eid: &[u8; 16],
    ) -> Result<Self, StatusWord> {
        let security = trigger
            .security
            .as_ref()
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        let keyset = keysets
            .iter()
            .find(|k| k.kvn == security.kvn && k.kid == security.kid)
            .ok_or(StatusWord::ReferencedDataNotFound)?;
        if security.psk_identity.is_empty() || security.psk_identity.contains(&0) {
            return Err(StatusWord::IncorrectData);
        }
        let open = match &trigger.connection {
            Some(c) => open_from(c).map_err(|_| StatusWord::IncorrectData)?,
            None => default_open(),
        };
        let ssl = client(security.psk_identity.clone(), keyset.psk.clone())
            .map_err(|_| StatusWord::ConditionsOfUseNotSatisfied)?;
        let mut agent = Self {
            number: 0,
            open,
            tls: Tls::Ready(ssl),
            channel: None,
            buffer: 0,
            outbox: VecDeque::new(),
            unflushed: 0,
            to_receive: 0,
            http: MessageReader::new(),
            uri: trigger.admin_uri.clone().unwrap_or_else(|| "/".into()),
            host: trigger.admin_host.clone().unwrap_or_default(),
            from: trigger
                .agent_id
                .clone()
                .unwrap_or_else(|| admin_from(eid, &Aid::isd_r())),
            closing: false,
            sent: None,
            pending: None,
            ending: None,
            scripts: 0,
        };
        let mut open = agent.open.clone();
        open.number = agent.next_number();
        agent.queue(Proactive::OpenChannel(open));
        Ok(agent)
    }

    fn next_number(&mut self) -> u8 {
        self.number = if self.number >= 0xFE {
            1
        } else {
            self.number + 1
        };
        self.number
    }

    fn queue(&mut self, command: Proactive) {
        match command.to_bytes() {
            Ok(bytes) => {
                self.pending = Some(bytes);
                self.sent = Some(command);
            }
            Err(e) => self.end(Ending::Broken(format!("proactive command: {e}"))),
        }
    }

    fn end(&mut self, ending: Ending) {
        tracing::debug!("SCP81 session: {ending:?}");
        if self.ending.is_none() {
            self.ending = Some(ending);
        }
    }

    /// The length of the proactive command waiting for FETCH.
    pub(crate) fn pending_len(&self) -> Option<usize> {
        self.pending.as_ref().map(Vec::len)
    }

    /// FETCH.
    pub(crate) fn fetch(&mut self) -> Option<Vec<u8>> {
        self.pending.take()
    }

    /// Whether the session is over (the channel closed or never opened).
    pub(crate) fn finished(&self) -> bool {
        self.ending.is_some() && self.channel.is_none() && self.sent.is_none()
    }

    /// How the session ended.
    pub(crate) fn ending(&self) -> Option<&Ending> {
        self.ending.as_ref()
    }

    /// Whether the terminal response answers the command the agent sent.
    pub(crate) fn awaits(&self, details: &CommandDetails) -> bool {
        self.pending.is_none() && self.sent.as_ref().is_some_and(|c| c.details() == *details)
    }

    /// TERMINAL RESPONSE to the agent's command.
    pub(crate) fn terminal_response(
        &mut self,
        response: &TerminalResponse,
        target: &mut impl AgentTarget,
    ) {
        let Some(command) = self.sent.take() else {
            return;
        };
        let ok = matches!(
            response.general_result,
            cat::result::OK | cat::result::MISSING_INFORMATION | cat::result::MODIFIED
        );
        match command {
            Proactive::OpenChannel(_) => {
                let channel = response
                    .find(cat::tags::CHANNEL_STATUS)
                    .and_then(|t| t.value.first())
                    .map(|b| b & 0x07);
                let buffer = response
                    .find(cat::tags::BUFFER_SIZE)
                    .and_then(|t| <[u8; 2]>::try_from(t.value.as_slice()).ok())
                    .map(u16::from_be_bytes);
                match (ok, channel, buffer) {
                    (true, Some(c), Some(b)) if c != 0 && b > 0 => {
                        self.channel = Some(c);
                        self.buffer = usize::from(b.min(self.open.buffer_size));
                        self.connect();
                    }
                    _ => self.end(Ending::NoChannel),
                }
            }
            Proactive::SendData(send) => {
                if ok {
                    self.unflushed = if send.flush {
                        0
                    } else {
                        self.unflushed + send.data.len()
                    };
                } else {
                    self.outbox.clear();
                    self.unflushed = 0;
                    self.close(Ending::Broken(format!(
                        "SEND DATA refused by the terminal (result {:02X})",
                        response.general_result
                    )));
                }
            }
            Proactive::ReceiveData(_) => {
                if ok {
                    let data = response
                        .find(cat::tags::CHANNEL_DATA)
                        .map(|t| t.value.clone())
                        .unwrap_or_default();
                    self.to_receive = response
                        .find(cat::tags::CHANNEL_DATA_LENGTH)
                        .and_then(|t| t.value.first())
                        .map_or(0, |n| usize::from(*n));
                    if let Some(pipe) = self.tls.pipe() {
                        pipe.incoming.extend(data);
                    }
                    self.progress(target);
                } else {
                    self.to_receive = 0;
                }
            }
            Proactive::CloseChannel(_) => {
                self.channel = None;
            }
            _ => {}
        }
        self.schedule();
    }

    /// An event download ENVELOPE.
    pub(crate) fn event(&mut self, event: &Event) {
        match event {
            Event::DataAvailable { length, .. } => {
                self.to_receive = self.to_receive.max(usize::from(*length));
            }
            Event::ChannelStatus { channel_status } => {
                if channel_status[0] & 0x80 == 0 {
                    self.to_receive = 0;
                    self.outbox.clear();
                    self.close(Ending::Broken(
                        "the terminal reports the link dropped".into(),
                    ));
                }
            }
        }
        if self.sent.is_none() {
            self.schedule();
        }
    }

    /// Starts the TLS handshake (ClientHello into the outbox).
    fn connect(&mut self) {
        let tls = std::mem::replace(&mut self.tls, Tls::Done);
        let Tls::Ready(ssl) = tls else {
            self.tls = tls;
            return;
        };
        match ssl.connect(Pipe::default()) {
            Ok(stream) => self.tls = Tls::Open(stream),
            Err(HandshakeError::WouldBlock(mid)) => self.tls = Tls::Handshaking(mid),
            Err(HandshakeError::Failure(mid)) => {
                let e = mid.error().to_string();
                self.close(Ending::Handshake(e));
            }
            Err(HandshakeError::SetupFailure(e)) => self.close(Ending::Handshake(e.to_string())),
        }
        self.drain();
    }

    /// Moves the TLS client's output to the outbox.
    fn drain(&mut self) {
        if let Some(pipe) = self.tls.pipe() {
            let out = std::mem::take(&mut pipe.outgoing);
            self.outbox.extend(out);
        }
    }

    /// Ends the session: what TLS still has to say is sent, then CLOSE CHANNEL.
    fn close(&mut self, ending: Ending) {
        self.end(ending);
        self.drain();
        self.tls = Tls::Done;
        self.closing = true;
    }

    /// Runs the TLS client on what arrived: the handshake, then HTTP.
    fn progress(&mut self, target: &mut impl AgentTarget) {
        let tls = std::mem::replace(&mut self.tls, Tls::Done);
        self.tls = match tls {
            Tls::Handshaking(mid) => match mid.handshake() {
                Ok(mut stream) => {
                    let first = AdminRequest {
                        uri: self.uri.clone(),
                        host: self.host.clone(),
                        from: self.from.clone(),
                        script_status: None,
                        resume: false,
                        body: Vec::new(),
                    };
                    let _ = stream.write_all(&first.to_bytes());
                    Tls::Open(stream)
                }
                Err(HandshakeError::WouldBlock(mid)) => Tls::Handshaking(mid),
                Err(HandshakeError::Failure(mut mid)) => {
                    let alert = std::mem::take(&mut mid.get_mut().outgoing);
                    self.outbox.extend(alert);
                    let e = mid.error().to_string();
                    self.close(Ending::Handshake(e));
                    return;
                }
                Err(HandshakeError::SetupFailure(e)) => {
                    self.close(Ending::Handshake(e.to_string()));
                    return;
                }
            },
            other => other,
        };
        if !matches!(self.tls, Tls::Open(_)) {
            self.drain();
            return;
        }
        if let Tls::Open(mut stream) = std::mem::replace(&mut self.tls, Tls::Done) {
            let mut closed = None;
            let mut buf = [0u8; 2048];
            loop {
                match stream.ssl_read(&mut buf) {
                    Ok(0) => {
                        closed = Some("the server closed the connection".to_owned());
                        break;
                    }
                    Ok(n) => self.http.push(buf.get(..n).unwrap_or_default()),
                    Err(e) if e.code() == ErrorCode::WANT_READ => break,
                    Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                        closed = Some("the server closed the TLS session".to_owned());
                        break;
                    }
                    Err(e) => {
                        closed = Some(format!("TLS: {e}"));
                        break;
                    }
                }
            }
            let mut finished = false;
            loop {
                match self.http.next_response() {
                    Ok(Some(message)) => match AdminResponse::from_message(&message) {
                        Ok(AdminResponse::End) => {
                            let _ = stream.shutdown();
                            finished = true;
                            break;
                        }
                        Ok(AdminResponse::Script {
                            next_uri,
                            targeted,
                            body,
                        }) => {
                            let request =
                                self.run_script(target, targeted.as_ref(), &body, next_uri);
                            match request {
                                Some(r) => {
                                    let _ = stream.write_all(&r.to_bytes());
                                }
                                None => {
                                    let _ = stream.shutdown();
                                    finished = true;
                                    break;
                                }
                            }
                        }
                        Err(e) => {
                            closed = Some(format!("the server's answer: {e}"));
                            break;
                        }
                    },
                    Ok(None) => break,
                    Err(e) => {
                        closed = Some(format!("the server's answer is not HTTP: {e}"));
                        break;
                    }
                }
            }
            self.tls = Tls::Open(stream);
            if finished {
                self.close(Ending::Completed);
                return;
            }
            if let Some(reason) = closed {
                self.close(Ending::Broken(reason));
                return;
            }
        }
        self.drain();
    }

    /// Runs one command script; the POST carrying its result (`None` when the server gave no
    /// next URI: the session ends after the script).
    fn run_script(
        &mut self,
        target: &mut impl AgentTarget,
        targeted: Option<&Aid>,
        body: &[u8],
        next_uri: String,
    ) -> Option<AdminRequest> {
        self.scripts += 1;
        let (status, response) = if target.address(targeted) {
            match execute_bytes(body, target) {
                Ok(e) => (ScriptStatus::Ok, e.response.to_bytes()),
                Err(_) => (ScriptStatus::SecurityError, Vec::new()),
            }
        } else {
            (ScriptStatus::UnknownApplication, Vec::new())
        };
        if next_uri.is_empty() {
            return None;
        }
        self.uri.clone_from(&next_uri);
        Some(AdminRequest {
            uri: next_uri,
            host: self.host.clone(),
            from: self.from.clone(),
            script_status: Some(status),
            resume: false,
            body: if status == ScriptStatus::Ok {
                response
            } else {
                Vec::new()
            },
        })
    }

    /// Picks the next proactive command, if the agent has one.
    fn schedule(&mut self) {
        if self.pending.is_some() || self.sent.is_some() {
            return;
        }
        let Some(channel) = self.channel else {
            return;
        };
        if self.to_receive > 0 && !self.closing {
            let length = u8::try_from(self.to_receive)
                .unwrap_or(cat::MAX_RECEIVE_DATA)
                .min(cat::MAX_RECEIVE_DATA);
            let number = self.next_number();
            self.queue(Proactive::ReceiveData(ReceiveData {
                number,
                channel,
                length,
            }));
            return;
        }
        if !self.outbox.is_empty() {
            let room = self.buffer.saturating_sub(self.unflushed);
            let n = self.outbox.len().min(cat::SEND_DATA_MAX).min(room.max(1));
            let data: Vec<u8> = self.outbox.drain(..n).collect();
            let flush = self.outbox.is_empty() || self.unflushed + n >= self.buffer;
            let number = self.next_number();
            self.queue(Proactive::SendData(SendData {
                number,
                flush,
                channel,
                data,
            }));
            return;
        }
        if self.closing {
            let number = self.next_number();
            self.queue(Proactive::CloseChannel(CloseChannel { number, channel }));
        }
    }
}

#[cfg(test)]
mod tests;

//! The SM-SR's SCP81 admin server: a PSK-TLS listener (TLS 1.2, pre-shared key suites, GP Card
//! Specification Amendment B) speaking the Amendment B HTTP dialogue with a card's ISD-R.
//!
//! The card is the TLS client: it connects (through the terminal's BIP channel, see
//! [`crate::transport::bip`]), presents the PSK identity of its SCP81 key set, and POSTs to the
//! admin URI. Each POST is handed to the owner of the server as a [`ServerEvent::Post`]; the
//! owner answers with a [`Reply`]: a command script (`200 OK`, the next URI in
//! `X-Admin-Next-URI`) or the end of the session (`204 No Content`, then TLS `close_notify`).
//!
//! rustls does not do TLS 1.2 PSK suites (no forward secrecy, MAC-then-encrypt): this link uses
//! the system OpenSSL through the `openssl` crate, and only this link.
//!
//! One thread accepts connections one after the other (one session at a time per server); the
//! PSK is looked up by identity in the table given at start, and a POST whose `X-Admin-From`
//! names another card than the identity's is refused.

use openssl::ssl::{
    ErrorCode, HandshakeError, Ssl, SslContext, SslMethod, SslVerifyMode, SslVersion,
};
use smsr_proto::gp::aid::Aid;
use smsr_proto::scp81::{parse_admin_from, AdminRequest, AdminResponse, MessageReader};
use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use zeroize::Zeroizing;

/// How long the server waits for the card's next bytes, and for the owner's reply.
pub const SESSION_TIMEOUT: Duration = Duration::from_secs(60);

/// The path of the admin URI this server hands out in `X-Admin-Next-URI` (with `?step=N`).
pub const ADMIN_PATH: &str = "/smsr/es5";

/// What the server tells its owner.
#[derive(Debug)]
pub enum ServerEvent {
    /// A card completed the TLS handshake.
    Connected {
        /// The PSK identity it presented.
        identity: String,
        /// The negotiated suite (OpenSSL name).
        cipher: String,
    },
    /// The card POSTed; answer with [`AdminServer::reply`].
    Post(AdminRequest),
    /// The PSK-TLS handshake failed: wrong PSK, unknown identity, no common suite.
    HandshakeFailed(String),
    /// A connection failed during the dialogue (a malformed request, the card went away).
    Failed(String),
    /// The session ended: `204` sent and the connection closed.
    Ended,
}

/// The owner's answer to a [`ServerEvent::Post`].
#[derive(Debug, Clone)]
pub enum Reply {
    /// A command script for the ISD-R (`targeted` `None`) or another application.
    Script {
        targeted: Option<Aid>,
        body: Vec<u8>,
    },
    /// `204 No Content`: the session ends.
    End,
}

/// A pre-shared key and the card it belongs to.
#[derive(Clone)]
pub struct PskEntry {
    /// The EID (16 bytes) of the card holding the key.
    pub eid: [u8; 16],
    pub psk: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for PskEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PskEntry")
            .field("eid", &hex::encode_upper(self.eid))
            .field("psk", &"REDACTED")
            .finish()
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminServerError {
    #[error("cannot listen on {addr} for the SCP81 admin server: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("OpenSSL refused the PSK-TLS configuration: {0}")]
    Tls(#[from] openssl::error::ErrorStack),
}

/// A running admin server. Dropping it stops the thread.
#[derive(Debug)]
pub struct AdminServer {
    addr: SocketAddr,
    replies: Sender<Reply>,
    stop: Arc<AtomicBool>,
    /// The connection being served (shut down on drop, so a blocked read returns).
    current: Arc<Mutex<Option<TcpStream>>>,
    thread: Option<JoinHandle<()>>,
}

/// The TLS 1.2 PSK server context: no certificate, the PSK found by identity in `keys`.
fn context(keys: Arc<HashMap<Vec<u8>, PskEntry>>) -> Result<SslContext, AdminServerError> {
    let mut b = SslContext::builder(SslMethod::tls_server())?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_max_proto_version(Some(SslVersion::TLS1_2))?;
    b.set_cipher_list(smsr_proto::scp81::TLS_CIPHERS)?;
    b.set_verify(SslVerifyMode::NONE);
    // `--keylog`: the NSS line of each session (Wireshark reads the same file).
    b.set_keylog_callback(|_ssl, line| crate::keylog::tls(line));
    b.set_psk_server_callback(move |_ssl, identity, out| {
        // Returning 0 refuses the identity: the handshake fails.
        let Some(entry) = identity.and_then(|id| keys.get(id)) else {
            return Ok(0);
        };
        let n = entry.psk.len();
        match out.get_mut(..n) {
            Some(dst) => {
                dst.copy_from_slice(&entry.psk);
                Ok(n)
            }
            None => Ok(0),
        }
    });
    Ok(b.build())
}

impl AdminServer {
    /// Starts a server on `addr` (`127.0.0.1:0` for a free port) with the PSKs of `keys` (PSK
    /// identity bytes → key); what happens is sent to `events`.
    pub fn start(
        addr: SocketAddr,
        keys: HashMap<Vec<u8>, PskEntry>,
        events: impl Fn(ServerEvent) -> bool + Send + 'static,
    ) -> Result<Self, AdminServerError> {
        let keys = Arc::new(keys);
        let ctx = context(Arc::clone(&keys))?;
        let listener = TcpListener::bind(addr).map_err(|source| AdminServerError::Listen {
            addr: addr.to_string(),
            source,
        })?;
        let addr = listener
            .local_addr()
            .map_err(|source| AdminServerError::Listen {
                addr: addr.to_string(),
                source,
            })?;
        let (replies, replies_rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let current = Arc::new(Mutex::new(None));
        let thread = {
            let stop = Arc::clone(&stop);
            let current = Arc::clone(&current);
            std::thread::Builder::new()
                .name("scp81-admin".into())
                .spawn(move || {
                    serve(
                        &listener,
                        &ctx,
                        &keys,
                        &events,
                        &replies_rx,
                        &stop,
                        &current,
                    );
                })
                .map_err(|source| AdminServerError::Listen {
                    addr: addr.to_string(),
                    source,
                })?
        };
        Ok(Self {
            addr,
            replies,
            stop,
            current,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers the pending POST; `false` when the server has stopped.
    pub fn reply(&self, reply: Reply) -> bool {
        self.replies.send(reply).is_ok()
    }
}

impl Drop for AdminServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wakes a thread waiting for a reply, or reading from the card.
        let _ = self.replies.send(Reply::End);
        if let Ok(Some(c)) = self.current.lock().map(|mut c| c.take()) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        // Wakes the blocking accept: the thread sees `stop` once it returns.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The accept loop: one connection at a time, until `stop`.
fn serve(
    listener: &TcpListener,
    ctx: &SslContext,
    keys: &HashMap<Vec<u8>, PskEntry>,
    events: &dyn Fn(ServerEvent) -> bool,
    replies: &Receiver<Reply>,
    stop: &AtomicBool,
    current: &Mutex<Option<TcpStream>>,
) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok(_) if stop.load(Ordering::Relaxed) => return,
            Ok((stream, peer)) => {
                if let (Ok(mut c), Ok(clone)) = (current.lock(), stream.try_clone()) {
                    *c = Some(clone);
                }
                // Replies left from an earlier session (or the wake-up of a drop) are stale.
                while replies.try_recv().is_ok() {}
                let outcome = session(stream, ctx, keys, events, replies, stop);
                let event = match outcome {
                    Ok(()) => ServerEvent::Ended,
                    Err(Failure::Handshake(e)) => {
                        tracing::debug!("SCP81 handshake from {peer}: {e}");
                        ServerEvent::HandshakeFailed(e)
                    }
                    Err(Failure::Session(e)) => {
                        tracing::debug!("SCP81 session from {peer}: {e}");
                        ServerEvent::Failed(e)
                    }
                };
                if let Ok(mut c) = current.lock() {
                    *c = None;
                }
                if !events(event) {
                    return;
                }
            }
            Err(e) => {
                let _ = events(ServerEvent::Failed(format!("accept: {e}")));
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// Why a connection ended early.
enum Failure {
    Handshake(String),
    Session(String),
}

impl From<String> for Failure {
    fn from(s: String) -> Self {
        Self::Session(s)
    }
}

impl From<&str> for Failure {
    fn from(s: &str) -> Self {
        Self::Session(s.to_owned())
    }
}

/// One TLS connection: handshake, then POST → reply until `204`.
fn session(
    stream: TcpStream,
    ctx: &SslContext,
    keys: &HashMap<Vec<u8>, PskEntry>,
    events: &dyn Fn(ServerEvent) -> bool,
    replies: &Receiver<Reply>,
    stop: &AtomicBool,
) -> Result<(), Failure> {
    let io = |e: std::io::Error| format!("socket: {e}");
    stream.set_nonblocking(false).map_err(io)?;
    stream.set_nodelay(true).map_err(io)?;
    stream.set_read_timeout(Some(SESSION_TIMEOUT)).map_err(io)?;
    stream
        .set_write_timeout(Some(SESSION_TIMEOUT))
        .map_err(io)?;
    let ssl = Ssl::new(ctx).map_err(|e| format!("TLS: {e}"))?;
    let mut tls = match ssl.accept(stream) {
        Ok(s) => s,
        Err(HandshakeError::Failure(mid)) => {
            return Err(Failure::Handshake(handshake_failure(
                mid.ssl(),
                &mid.error().to_string(),
            )))
        }
        Err(HandshakeError::SetupFailure(e)) => {
            return Err(Failure::Handshake(format!("TLS setup: {e}")))
        }
        Err(HandshakeError::WouldBlock(_)) => {
            return Err(Failure::Handshake("the PSK-TLS handshake timed out".into()))
        }
    };
    let identity = tls
        .ssl()
        .psk_identity()
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .unwrap_or_default();
    let entry = keys
        .get(identity.as_bytes())
        .ok_or_else(|| format!("PSK identity {identity:?} is unknown"))?;
    let cipher = tls
        .ssl()
        .current_cipher()
        .map(|c| c.name().to_owned())
        .unwrap_or_default();
    if !events(ServerEvent::Connected {
        identity: identity.clone(),
        cipher,
    }) {
        return Err("the server's owner is gone".into());
    }
    let mut reader = MessageReader::new();
    let mut step = 0u32;
    loop {
        let message = loop {
            if let Some(m) = reader.next_request().map_err(|e| {
                format!("the card's request is not HTTP as GP Amendment B has it: {e}")
            })? {
                break m;
            }
            let mut buf = [0u8; 4096];
            match tls.ssl_read(&mut buf) {
                Ok(0) => return Err("the card closed the TLS connection mid-session".into()),
                Ok(n) => reader.push(buf.get(..n).unwrap_or_default()),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    return Err("the card closed the TLS connection mid-session".into())
                }
                Err(e) => return Err(format!("reading the card's request: {e}").into()),
            }
        };
        let request = AdminRequest::from_message(&message)
            .map_err(|e| format!("the card's POST does not follow GP Amendment B: {e}"))?;
        match parse_admin_from(&request.from) {
            Ok((eid, _)) if eid == entry.eid => {}
            Ok((eid, _)) => {
                return Err(format!(
                    "X-Admin-From names EID {} but the PSK identity is that of {}",
                    hex::encode_upper(eid),
                    hex::encode_upper(entry.eid)
                )
                .into())
            }
            Err(e) => return Err(format!("X-Admin-From {:?}: {e}", request.from).into()),
        }
        if !events(ServerEvent::Post(request)) {
            return Err("the server's owner is gone".into());
        }
        let reply = match replies.recv_timeout(SESSION_TIMEOUT) {
            Ok(r) if !stop.load(Ordering::Relaxed) => r,
            Ok(_) | Err(RecvTimeoutError::Disconnected) => Reply::End,
            Err(RecvTimeoutError::Timeout) => Reply::End,
        };
        step += 1;
        let response = match reply {
            Reply::Script { targeted, body } => AdminResponse::Script {
                next_uri: format!("{ADMIN_PATH}?step={step}"),
                targeted,
                body,
            },
            Reply::End => AdminResponse::End,
        };
        tls.write_all(&response.to_bytes())
            .map_err(|e| format!("writing to the card: {e}"))?;
        if response == AdminResponse::End {
            // close_notify, then wait for the card's (or its going away).
            let _ = tls.shutdown();
            let mut buf = [0u8; 256];
            let _ = tls.ssl_read(&mut buf);
            return Ok(());
        }
    }
}

/// What a failed handshake means for the user.
fn handshake_failure(ssl: &openssl::ssl::SslRef, detail: &str) -> String {
    let identity = ssl
        .psk_identity()
        .map(|id| String::from_utf8_lossy(id).into_owned());
    match identity {
        Some(id) => format!(
            "the card's PSK-TLS handshake failed (identity {id:?}): the card's SCP81 PSK is not \
             the EIS's, or the identity is unknown ({detail})"
        ),
        None => format!("the card's PSK-TLS handshake failed ({detail})"),
    }
}

#[cfg(test)]
mod tests;

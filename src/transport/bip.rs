//! The terminal's part of the Bearer Independent Protocol (ETSI TS 102 223 §6.4.27–6.4.31,
//! §7.5.10–7.5.11): what a handset or modem does for a proactive UICC, done here by the tool
//! that holds the PC/SC link.
//!
//! The card asks for an action by ending any response with `91xx` ([`ProactiveWatch`] notes it);
//! the terminal fetches the command (FETCH), runs it and answers with TERMINAL RESPONSE:
//!
//! - OPEN CHANNEL (TCP client, UICC remote): a TCP connection to the address this terminal was
//!   given (the SM-SR's admin server on loopback; the address the card asks for is logged, not
//!   dialled); the buffer size granted is the card's, at most [`MAX_BUFFER`];
//! - SEND DATA: stored in the Tx buffer, written to the socket when the card says so (qualifier
//!   b1) or the buffer would overflow is refused;
//! - RECEIVE DATA: up to the length asked from the Rx buffer, with what is left;
//! - CLOSE CHANNEL, GET CHANNEL STATUS, SET UP EVENT LIST;
//! - anything else: "beyond terminal capabilities".
//!
//! Bytes arriving on the socket (read by a thread, handed over through a callback) are announced
//! with a Data available event ENVELOPE when the Rx buffer turns non-empty; a connection the
//! peer closed is announced with a Channel status event (link dropped) once the card has read
//! everything before it. Events go only when the card subscribed to them. The terminal carries
//! no TLS: the card and the server terminate it.

use crate::transport::{Transport, TransportError};
use smsr_proto::cat::{
    self, bip_error, channel_status, open_channel_ok, receive_data_ok, send_data_ok, Event,
    Proactive, TerminalResponse,
};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The largest channel buffer this terminal grants (bytes).
pub const MAX_BUFFER: u16 = 16384;

/// The channel this terminal opens (it has one).
pub const CHANNEL_ID: u8 = 1;

/// What the socket side hands to the terminal.
#[derive(Debug)]
pub enum Incoming {
    /// Bytes read from the channel's socket (`generation` names the connection).
    Data { generation: u32, bytes: Vec<u8> },
    /// The peer closed the connection, or it broke.
    Closed { generation: u32 },
}

/// A callback taking socket news from the reader thread; `false` when nobody listens.
pub type Notify = Arc<dyn Fn(Incoming) -> bool + Send + Sync>;

/// A [`Transport`] decorator that notes a pending proactive command (`91xx`) and shows the
/// caller `9000` instead, as a terminal does (ETSI TS 102 221 §7.4.2.2): the command itself
/// succeeded.
#[derive(Debug)]
pub struct ProactiveWatch<T: Transport> {
    inner: T,
    pending: Arc<AtomicU16>,
}

impl<T: Transport> ProactiveWatch<T> {
    pub fn new(inner: T) -> (Self, PendingProactive) {
        let pending = Arc::new(AtomicU16::new(0));
        (
            Self {
                inner,
                pending: Arc::clone(&pending),
            },
            PendingProactive(pending),
        )
    }
}

/// The length of the proactive command the card last said is waiting, shared with the
/// [`ProactiveWatch`] that saw it.
#[derive(Debug, Clone)]
pub struct PendingProactive(Arc<AtomicU16>);

impl PendingProactive {
    /// Takes the pending length (`None` when the last response was not `91xx`).
    pub fn take(&self) -> Option<u8> {
        let v = self.0.swap(0, Ordering::Relaxed);
        (v & 0x100 != 0).then_some((v & 0xFF) as u8)
    }

    /// Whether a command waits.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed) & 0x100 != 0
    }
}

impl<T: Transport> Transport for ProactiveWatch<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let mut r = self.inner.transmit(command)?;
        let n = r.len();
        match r.get(n.saturating_sub(2)..) {
            Some(&[0x91, xx]) if n >= 2 => {
                self.pending.store(0x100 | u16::from(xx), Ordering::Relaxed);
                r.truncate(n - 2);
                r.extend_from_slice(&[0x90, 0x00]);
            }
            _ => self.pending.store(0, Ordering::Relaxed),
        }
        Ok(r)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.pending.store(0, Ordering::Relaxed);
        self.inner.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reader_name(&self) -> String {
        self.inner.reader_name()
    }
}

/// Why the terminal could not go on.
#[derive(Debug, thiserror::Error)]
pub enum BipError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("the card's proactive command does not decode (ETSI TS 102 223): {0}")]
    BadCommand(String),
    #[error("the card answered {what} with {sw:04X}")]
    Refused { what: &'static str, sw: u16 },
}

/// An open channel.
#[derive(Debug)]
struct Channel {
    generation: u32,
    socket: TcpStream,
    buffer: usize,
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    /// The Rx buffer turned non-empty and the card was told.
    announced: bool,
    peer_closed: bool,
    drop_reported: bool,
}

/// The BIP terminal of one card.
pub struct Terminal {
    connect_to: SocketAddr,
    notify: Notify,
    pending: PendingProactive,
    channel: Option<Channel>,
    generation: u32,
    events: Vec<u8>,
    /// Counts of what the terminal did (for traces and tests).
    pub stats: TerminalStats,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Terminal")
            .field("connect_to", &self.connect_to)
            .field("channel", &self.channel)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// What the terminal did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TerminalStats {
    pub fetches: usize,
    pub events: usize,
    pub bytes_to_socket: usize,
    pub bytes_to_card: usize,
}

impl Terminal {
    /// A terminal whose channels go to `connect_to`; socket news go to `notify`; `pending` is
    /// the [`ProactiveWatch`] below the card transport.
    pub fn new(connect_to: SocketAddr, notify: Notify, pending: PendingProactive) -> Self {
        Self {
            connect_to,
            notify,
            pending,
            channel: None,
            generation: 0,
            events: Vec::new(),
            stats: TerminalStats::default(),
        }
    }

    /// TERMINAL PROFILE announcing BIP (TS 102 221 §11.2.1): sent once after each reset.
    pub fn profile(&mut self, card: &mut dyn Transport) -> Result<(), BipError> {
        let r = card.send(&cat::terminal_profile_apdu(&cat::TERMINAL_PROFILE_BIP))?;
        if !r.sw.is_success() {
            return Err(BipError::Refused {
                what: "TERMINAL PROFILE",
                sw: r.sw.to_u16(),
            });
        }
        Ok(())
    }

    /// Whether a channel is open.
    pub fn channel_open(&self) -> bool {
        self.channel.is_some()
    }

    /// Whether the card has something for the terminal to do.
    pub fn has_work(&self) -> bool {
        self.pending.is_set() || self.event_due().is_some()
    }

    /// Takes socket news.
    pub fn on_socket(&mut self, incoming: Incoming) {
        let Some(ch) = self.channel.as_mut() else {
            return;
        };
        match incoming {
            Incoming::Data { generation, bytes } if generation == ch.generation => {
                ch.rx.extend(bytes);
            }
            Incoming::Closed { generation } if generation == ch.generation => {
                ch.peer_closed = true;
            }
            _ => {}
        }
    }

    /// Closes the channel from the terminal's side (the link broke): the socket is shut and
    /// the card told, as when the network drops it.
    pub fn cut(&mut self) {
        if let Some(ch) = self.channel.as_mut() {
            let _ = ch.socket.shutdown(Shutdown::Both);
            ch.peer_closed = true;
            ch.rx.clear();
        }
    }

    /// Does one piece of the card's work: a FETCH and its TERMINAL RESPONSE, or an event
    /// ENVELOPE. `false` when there was nothing to do.
    pub fn step(&mut self, card: &mut dyn Transport) -> Result<bool, BipError> {
        if let Some(len) = self.pending.take() {
            self.stats.fetches += 1;
            let r = card.send(&cat::fetch(len))?;
            if !r.sw.is_success() {
                return Err(BipError::Refused {
                    what: "FETCH",
                    sw: r.sw.to_u16(),
                });
            }
            let response = match Proactive::parse(&r.data) {
                Ok(command) => self.run(&command),
                Err(e) => {
                    // Answer what can be read of it, so the card's proactive session ends.
                    let details = cat::ProactiveCommand::parse(&r.data)
                        .map(|c| c.details)
                        .map_err(|_| BipError::BadCommand(e.to_string()))?;
                    TerminalResponse::new(details, cat::result::NOT_UNDERSTOOD)
                }
            };
            let apdu = response
                .to_apdu()
                .map_err(|e| BipError::BadCommand(e.to_string()))?;
            let r = card.send(&apdu)?;
            if !r.sw.is_success() {
                return Err(BipError::Refused {
                    what: "TERMINAL RESPONSE",
                    sw: r.sw.to_u16(),
                });
            }
            return Ok(true);
        }
        let Some(event) = self.event_due() else {
            return Ok(false);
        };
        let apdu = event
            .to_envelope()
            .map_err(|e| BipError::BadCommand(e.to_string()))?;
        let r = card.send(&apdu)?;
        self.stats.events += 1;
        if r.sw.to_u16() == 0x9300 {
            // Toolkit busy: the event goes again at the next step.
            return Ok(true);
        }
        if let Some(ch) = self.channel.as_mut() {
            match event {
                Event::DataAvailable { .. } => ch.announced = true,
                Event::ChannelStatus { .. } => ch.drop_reported = true,
            }
        }
        if !r.sw.is_success() {
            return Err(BipError::Refused {
                what: "the event download ENVELOPE",
                sw: r.sw.to_u16(),
            });
        }
        Ok(true)
    }

    /// The event the card should hear of now, if any.
    fn event_due(&self) -> Option<Event> {
        let ch = self.channel.as_ref()?;
        if !ch.rx.is_empty() && !ch.announced && self.events.contains(&cat::event::DATA_AVAILABLE) {
            return Some(Event::DataAvailable {
                channel_status: channel_status(CHANNEL_ID, true, 0),
                length: u8::try_from(ch.rx.len()).unwrap_or(0xFF),
            });
        }
        if ch.peer_closed
            && ch.rx.is_empty()
            && !ch.drop_reported
            && self.events.contains(&cat::event::CHANNEL_STATUS)
        {
            return Some(Event::ChannelStatus {
                channel_status: channel_status(CHANNEL_ID, false, 0x05),
            });
        }
        None
    }

    /// Runs one proactive command; its TERMINAL RESPONSE.
    fn run(&mut self, command: &Proactive) -> TerminalResponse {
        let details = command.details();
        match command {
            Proactive::SetUpEventList { events, .. } => {
                self.events.clone_from(events);
                TerminalResponse::new(details, cat::result::OK)
            }
            Proactive::OpenChannel(open) => {
                if self.channel.is_some() {
                    // No channel available.
                    return bip_error(details, 0x01);
                }
                tracing::debug!(
                    "OPEN CHANNEL: the card asks for {:?} {:?}; connecting to {}",
                    open.transport,
                    open.destination,
                    self.connect_to
                );
                let socket =
                    match TcpStream::connect_timeout(&self.connect_to, Duration::from_secs(5)) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::debug!("OPEN CHANNEL: {}: {e}", self.connect_to);
                            // Remote device not reachable.
                            return bip_error(details, 0x07);
                        }
                    };
                let _ = socket.set_nodelay(true);
                self.generation = self.generation.wrapping_add(1);
                let generation = self.generation;
                if let Ok(mut reader) = socket.try_clone() {
                    let notify = Arc::clone(&self.notify);
                    let spawned = std::thread::Builder::new()
                        .name("bip-channel".into())
                        .spawn(move || {
                            let mut buf = vec![0u8; 4096];
                            loop {
                                match reader.read(&mut buf) {
                                    Ok(0) | Err(_) => {
                                        notify(Incoming::Closed { generation });
                                        return;
                                    }
                                    Ok(n) => {
                                        let bytes = buf.get(..n).unwrap_or_default().to_vec();
                                        if !notify(Incoming::Data { generation, bytes }) {
                                            return;
                                        }
                                    }
                                }
                            }
                        });
                    if spawned.is_err() {
                        return bip_error(details, 0x00);
                    }
                } else {
                    return bip_error(details, 0x00);
                }
                let granted = open.buffer_size.min(MAX_BUFFER);
                self.channel = Some(Channel {
                    generation,
                    socket,
                    buffer: usize::from(granted),
                    rx: VecDeque::new(),
                    tx: Vec::new(),
                    announced: false,
                    peer_closed: false,
                    drop_reported: false,
                });
                open_channel_ok(open, CHANNEL_ID, granted)
            }
            Proactive::SendData(send) => {
                let Some(ch) = self.channel.as_mut().filter(|_| send.channel == CHANNEL_ID) else {
                    // Channel identifier not valid.
                    return bip_error(details, 0x03);
                };
                if ch.peer_closed {
                    // Channel closed.
                    return bip_error(details, 0x02);
                }
                if ch.tx.len() + send.data.len() > ch.buffer {
                    tracing::debug!(
                        "SEND DATA: {} bytes over the {}-byte buffer ({} stored)",
                        send.data.len(),
                        ch.buffer,
                        ch.tx.len()
                    );
                    ch.tx.clear();
                    // Buffer size not available.
                    return bip_error(details, 0x04);
                }
                ch.tx.extend_from_slice(&send.data);
                if send.flush {
                    if let Err(e) = ch.socket.write_all(&ch.tx) {
                        tracing::debug!("SEND DATA: writing to the channel: {e}");
                        ch.tx.clear();
                        ch.peer_closed = true;
                        return bip_error(details, 0x02);
                    }
                    self.stats.bytes_to_socket += ch.tx.len();
                    ch.tx.clear();
                }
                send_data_ok(send, ch.buffer - ch.tx.len())
            }
            Proactive::ReceiveData(receive) => {
                let Some(ch) = self
                    .channel
                    .as_mut()
                    .filter(|_| receive.channel == CHANNEL_ID)
                else {
                    return bip_error(details, 0x03);
                };
                let n = usize::from(receive.length.min(cat::MAX_RECEIVE_DATA)).min(ch.rx.len());
                let data: Vec<u8> = ch.rx.drain(..n).collect();
                if ch.rx.is_empty() {
                    ch.announced = false;
                }
                self.stats.bytes_to_card += data.len();
                receive_data_ok(receive, &data, ch.rx.len())
            }
            Proactive::CloseChannel(close) => {
                if close.channel != CHANNEL_ID || self.channel.is_none() {
                    return bip_error(details, 0x03);
                }
                if let Some(ch) = self.channel.take() {
                    let _ = ch.socket.shutdown(Shutdown::Both);
                }
                TerminalResponse::new(details, cat::result::OK)
            }
            Proactive::GetChannelStatus { .. } => {
                let response = TerminalResponse::new(details, cat::result::OK);
                match &self.channel {
                    Some(ch) => response.with(
                        cat::tags::CHANNEL_STATUS,
                        &channel_status(CHANNEL_ID, !ch.peer_closed, 0),
                    ),
                    None => response,
                }
            }
            Proactive::Other(_) => TerminalResponse::new(details, cat::result::BEYOND_CAPABILITIES),
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(ch) = self.channel.take() {
            let _ = ch.socket.shutdown(Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests;

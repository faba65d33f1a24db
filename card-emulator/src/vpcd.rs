//! The link to vsmartcard's virtual PC/SC reader driver (vpcd), which listens on TCP inside
//! pcscd; the emulator is its client ("virtual ICC").
//!
//! Protocol (vsmartcard `vpcd`): every message, both ways, is a frame of a 2-byte big-endian
//! length and a payload. A 1-byte payload from vpcd is a control message: `00` power off, `01`
//! power on, `02` reset, `04` "send the ATR" (answered with a frame holding the ATR); the others
//! get no answer. Any longer payload is a C-APDU, answered with one frame holding the R-APDU.
//!
//! Latency: vpcd writes a frame in pieces, so with Nagle's algorithm on its side and delayed ACKs
//! on ours every APDU would wait for the delayed-ACK timer (about 40 ms). The link sets
//! `TCP_NODELAY` and re-arms `TCP_QUICKACK` before and after every read, and writes each answer
//! with a single write.

use crate::{Emulator, EmulatorError};
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// vpcd's default address: its first reader's port on the loopback interface.
pub const DEFAULT_VPCD_ADDR: &str = "127.0.0.1:35963";

/// Control message: power off.
pub const CTRL_POWER_OFF: u8 = 0;
/// Control message: power on.
pub const CTRL_POWER_ON: u8 = 1;
/// Control message: reset.
pub const CTRL_RESET: u8 = 2;
/// Control message: send the ATR.
pub const CTRL_GET_ATR: u8 = 4;

/// Pause between connection attempts while vpcd is not reachable.
pub const DEFAULT_BACKOFF: Duration = Duration::from_millis(200);

/// A vpcd client: connects to one address and serves the emulator over it, reconnecting
/// whenever the link drops (pcscd restarts) or is not up yet.
#[derive(Clone, Debug)]
pub struct VpcdClient {
    addr: String,
    backoff: Duration,
    tuned: bool,
}

impl VpcdClient {
    /// A client for `HOST:PORT` (checked for form only; resolved at each connection attempt).
    pub fn new(addr: &str) -> Result<Self, EmulatorError> {
        let bad = |reason: &str| EmulatorError::VpcdAddress {
            addr: addr.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, port) = addr
            .rsplit_once(':')
            .ok_or_else(|| bad("expected HOST:PORT"))?;
        if host.is_empty() {
            return Err(bad("no host"));
        }
        match port.parse::<u16>() {
            Ok(p) if p != 0 => {}
            _ => return Err(bad("the port must be a number from 1 to 65535")),
        }
        Ok(Self {
            addr: addr.to_owned(),
            backoff: DEFAULT_BACKOFF,
            tuned: true,
        })
    }

    /// Sets the pause between connection attempts.
    #[must_use]
    pub fn with_backoff(mut self, backoff: Duration) -> Self {
        self.backoff = backoff;
        self
    }

    /// Turns the socket tuning (`TCP_NODELAY`, `TCP_QUICKACK`) off, to measure what it saves
    /// (`euicc-emulator run --no-socket-tuning`); on by default.
    #[must_use]
    pub fn with_socket_tuning(mut self, tuned: bool) -> Self {
        self.tuned = tuned;
        self
    }

    /// The address connected to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Connects and serves until `stop` is set (checked between connections). Each lost
    /// connection powers the card off; an outage is logged once, not at every attempt.
    pub fn run(&self, emulator: &mut Emulator, stop: &AtomicBool) {
        let mut outage_logged = false;
        while !stop.load(Ordering::Relaxed) {
            match self.connect() {
                Ok(stream) => {
                    outage_logged = false;
                    tracing::info!("connected to vpcd at {}", self.addr);
                    let result = serve_with(emulator, stream, self.tuned);
                    emulator.power_off();
                    match result {
                        Ok(()) => tracing::info!("vpcd closed the connection"),
                        Err(e) => tracing::warn!("vpcd connection lost: {e}"),
                    }
                }
                Err(e) if !outage_logged => {
                    tracing::warn!(
                        "vpcd at {} not reachable ({e}); retrying every {} ms",
                        self.addr,
                        self.backoff.as_millis()
                    );
                    outage_logged = true;
                }
                Err(e) => tracing::trace!("vpcd still not reachable: {e}"),
            }
            if !stop.load(Ordering::Relaxed) {
                std::thread::sleep(self.backoff);
            }
        }
    }

    fn connect(&self) -> io::Result<TcpStream> {
        let stream =
            TcpStream::connect(self.addr.to_socket_addrs()?.collect::<Vec<_>>().as_slice())?;
        stream.set_nodelay(self.tuned)?;
        Ok(stream)
    }
}

/// Serves the emulator over one vpcd connection until vpcd closes it (`Ok`) or it fails.
pub fn serve(emulator: &mut Emulator, stream: TcpStream) -> io::Result<()> {
    serve_with(emulator, stream, true)
}

/// [`serve`], with the socket tuning on or off.
fn serve_with(emulator: &mut Emulator, mut stream: TcpStream, tuned: bool) -> io::Result<()> {
    stream.set_nodelay(tuned)?;
    serve_stream(emulator, &mut stream, |s| {
        if tuned {
            quickack(s);
        }
    })
}

/// Serves the emulator over any byte stream carrying vpcd frames until it ends between frames
/// (`Ok`) or fails; `around_read` runs before and after every read (the socket tuning). The
/// frame reader every vpcd connection goes through, and what the `vpcd_frames` fuzz target
/// feeds.
pub fn serve_stream<S: Read + Write>(
    emulator: &mut Emulator,
    stream: &mut S,
    mut around_read: impl FnMut(&S),
) -> io::Result<()> {
    let mut frame = Vec::with_capacity(512);
    let mut out = Vec::with_capacity(512);
    while read_frame(stream, &mut frame, &mut around_read)? {
        match frame.as_slice() {
            [] => tracing::warn!("vpcd sent an empty frame; ignored"),
            &[CTRL_POWER_OFF] => {
                tracing::debug!("power off");
                emulator.power_off();
            }
            &[CTRL_POWER_ON] => {
                tracing::debug!("power on");
                emulator.power_on();
            }
            &[CTRL_RESET] => {
                tracing::debug!("reset");
                emulator.reset();
            }
            &[CTRL_GET_ATR] => write_frame(stream, &mut out, &emulator.state().atr())?,
            &[other] => tracing::warn!("unknown vpcd control message {other:02X}; ignored"),
            c_apdu => {
                let r_apdu = emulator.transmit(c_apdu);
                tracing::trace!(
                    c_apdu = %HexBytes(c_apdu),
                    r_apdu = %HexBytes(&r_apdu),
                    "APDU"
                );
                write_frame(stream, &mut out, &r_apdu)?;
            }
        }
    }
    Ok(())
}

/// Reads one frame into `frame`; `false` when vpcd closed the connection between frames.
fn read_frame<S: Read>(
    stream: &mut S,
    frame: &mut Vec<u8>,
    around_read: &mut impl FnMut(&S),
) -> io::Result<bool> {
    let mut header = [0u8; 2];
    if !read_full(stream, &mut header, true, around_read)? {
        return Ok(false);
    }
    frame.clear();
    frame.resize(usize::from(u16::from_be_bytes(header)), 0);
    read_full(stream, frame, false, around_read)?;
    Ok(true)
}

/// Fills `buf`, running `around_read` (re-arming `TCP_QUICKACK`) around every read. A close
/// before the first byte is `Ok(false)` if `eof_ok`, any other early close an `UnexpectedEof`
/// error.
fn read_full<S: Read>(
    stream: &mut S,
    buf: &mut [u8],
    eof_ok: bool,
    around_read: &mut impl FnMut(&S),
) -> io::Result<bool> {
    let mut filled = 0;
    while filled < buf.len() {
        around_read(stream);
        let n = match stream.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        around_read(stream);
        if n == 0 {
            return if filled == 0 && eof_ok {
                Ok(false)
            } else {
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "vpcd closed the connection in the middle of a frame",
                ))
            };
        }
        filled += n;
    }
    Ok(true)
}

/// Writes one frame with a single write.
fn write_frame<S: Write>(stream: &mut S, out: &mut Vec<u8>, payload: &[u8]) -> io::Result<()> {
    let payload = match u16::try_from(payload.len()) {
        Ok(_) => payload,
        Err(_) => {
            tracing::error!(
                "response of {} bytes does not fit a vpcd frame; answering 6F00",
                payload.len()
            );
            &[0x6F, 0x00]
        }
    };
    let len = u16::try_from(payload.len()).unwrap_or_default();
    out.clear();
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    stream.write_all(out)?;
    stream.flush()
}

/// Asks the kernel to acknowledge at once instead of delaying the ACK (Linux resets the flag
/// after some exchanges, hence the re-arming). Failure only costs latency.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) {
    let _ = socket2::SockRef::from(stream).set_quickack(true);
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) {}

/// Upper-case hexadecimal, formatted only when the log line is emitted.
struct HexBytes<'a>(&'a [u8]);

impl std::fmt::Display for HexBytes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02X}"))
    }
}

#[cfg(test)]
mod tests;

//! A decorator that streams every exchange as a GSMTAP frame of type SIM over UDP
//! (`--gsmtap HOST[:PORT]`), for Wireshark capturing live or `pySim-trace.py gsmtap-udp`.
//!
//! The frames are those `smsr trace export --pcap` writes for the same exchanges
//! ([`crate::trace::gsmtap`]): the tap sits at the recorder's layer (below the 61xx/6Cxx
//! handling, so every GET RESPONSE is a frame) and redacts what the recorder redacts unless
//! made with `secrets` (`--trace-secrets`). The datagrams carry the APDUs in clear.
//!
//! Sending never fails the command: with no one listening a datagram is simply lost, and a send
//! error (unreachable network, a refused port reported back) is logged once at debug level.

use super::{Transport, TransportError};
use crate::trace::gsmtap::{gsmtap_payload, Frame, GSMTAP_UDP_PORT};
use crate::trace::Recorded;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

/// Where to send the frames, as given on the command line: `HOST`, `HOST:PORT`, `[IPv6]:PORT`
/// or a bare IPv6 address. The port is 4729 when left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GsmtapTarget {
    pub host: String,
    pub port: u16,
}

impl GsmtapTarget {
    /// Parses `HOST[:PORT]` (no name lookup yet).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = |why: &str| {
            format!(
                "{text:?} {why}: give HOST or HOST:PORT, e.g. 127.0.0.1:4729 (the port is \
                 {GSMTAP_UDP_PORT} when left out)"
            )
        };
        if text.is_empty() {
            return Err(bad("is empty"));
        }
        // A port alone (`4729`, `:4729`): the loopback interface.
        let port_only = text.strip_prefix(':').unwrap_or(text);
        if !port_only.is_empty() && port_only.bytes().all(|b| b.is_ascii_digit()) {
            let port = port_only
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad("is not a port (1 to 65535)"))?;
            return Ok(Self {
                host: "127.0.0.1".into(),
                port,
            });
        }
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Ok(Self {
                host: ip.to_string(),
                port: GSMTAP_UDP_PORT,
            });
        }
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| bad("has no valid port (1 to 65535) after the colon"))?;
                (host, port)
            }
            None => (text, GSMTAP_UDP_PORT),
        };
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty()
            || host.contains(['[', ']', ' '])
            || host.contains(':') && host.parse::<Ipv6Addr>().is_err()
        {
            return Err(bad("is not a host name or address"));
        }
        Ok(Self {
            host: host.to_owned(),
            port,
        })
    }

    /// The address to send to (the first the name resolves to).
    pub fn resolve(&self) -> Result<SocketAddr, String> {
        let fail = |why: String| {
            format!(
                "--gsmtap {self}: {why}; give an address (127.0.0.1:4729) or a host name this \
                 machine resolves"
            )
        };
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| fail(format!("cannot resolve {:?}: {e}", self.host)))?
            .next()
            .ok_or_else(|| fail(format!("{:?} has no address", self.host)))
    }
}

impl fmt::Display for GsmtapTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// The decorator.
#[derive(Debug)]
pub struct GsmtapTap<T: Transport> {
    inner: T,
    socket: Option<UdpSocket>,
    target: SocketAddr,
    secrets: bool,
    /// A send error has been logged.
    logged: bool,
}

impl<T: Transport> GsmtapTap<T> {
    /// Taps `inner`, sending to `target` from an ephemeral port. When no socket can be opened,
    /// the tap logs it and sends nothing: the command runs on.
    pub fn new(inner: T, target: SocketAddr, secrets: bool) -> Self {
        let local: SocketAddr = match target {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = match UdpSocket::bind(local) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(
                    "--gsmtap {target}: cannot open a UDP socket ({e}); no frames will be sent"
                );
                None
            }
        };
        Self {
            inner,
            socket,
            target,
            secrets,
            logged: false,
        }
    }

    /// The wrapped transport.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    fn send(&mut self, frame: &Frame) {
        let Some(socket) = &self.socket else {
            return;
        };
        if let Err(e) = socket.send_to(&gsmtap_payload(frame), self.target) {
            if !self.logged {
                self.logged = true;
                tracing::debug!(
                    "--gsmtap {}: cannot send ({e}); frames are dropped, the command goes on",
                    self.target
                );
            }
        }
    }
}

impl<T: Transport> Transport for GsmtapTap<T> {
    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        let response = self.inner.transmit(command)?;
        let frame = Frame::new(
            None,
            &Recorded::from_command(command, self.secrets),
            &response,
        );
        self.send(&frame);
        Ok(response)
    }

    fn reset(&mut self) -> Result<Vec<u8>, TransportError> {
        self.inner.reset()
    }

    fn atr(&self) -> Vec<u8> {
        self.inner.atr()
    }

    fn reader_name(&self) -> String {
        self.inner.reader_name()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::channel::ResponseAssembler;
    use crate::transport::fake_card::{FakeCard, AID};
    use std::time::Duration;

    #[test]
    fn targets_parse_with_the_default_port() {
        let t = |host: &str, port| GsmtapTarget {
            host: host.into(),
            port,
        };
        assert_eq!(GsmtapTarget::parse("127.0.0.1"), Ok(t("127.0.0.1", 4729)));
        assert_eq!(
            GsmtapTarget::parse("127.0.0.1:5000"),
            Ok(t("127.0.0.1", 5000))
        );
        assert_eq!(GsmtapTarget::parse("localhost"), Ok(t("localhost", 4729)));
        assert_eq!(
            GsmtapTarget::parse("wireshark.lan:9"),
            Ok(t("wireshark.lan", 9))
        );
        assert_eq!(GsmtapTarget::parse("::1"), Ok(t("::1", 4729)));
        assert_eq!(GsmtapTarget::parse("[::1]:4730"), Ok(t("::1", 4730)));
        assert_eq!(GsmtapTarget::parse("[::1]"), Ok(t("::1", 4729)));
        assert_eq!(t("::1", 4730).to_string(), "[::1]:4730");
        assert_eq!(GsmtapTarget::parse("4730"), Ok(t("127.0.0.1", 4730)));
        assert_eq!(GsmtapTarget::parse(":4729"), Ok(t("127.0.0.1", 4729)));
        for bad in [
            "",
            "host:",
            "host:0",
            "host:70000",
            "host:x",
            ":0",
            "70000",
            "a b",
            "fe80::1:z",
        ] {
            let err = GsmtapTarget::parse(bad).unwrap_err();
            assert!(err.contains("HOST:PORT"), "{bad}: {err}");
        }
    }

    #[test]
    fn loopback_resolves() {
        let a = GsmtapTarget::parse("127.0.0.1:4800")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(a, "127.0.0.1:4800".parse().unwrap());
        let err = GsmtapTarget::parse("no-such-host.invalid")
            .unwrap()
            .resolve()
            .unwrap_err();
        assert!(err.contains("--gsmtap no-such-host.invalid:4729"), "{err}");
    }

    #[test]
    fn every_exchange_is_sent_as_the_recorder_would_write_it() {
        let listener = UdpSocket::bind("127.0.0.1:0").unwrap();
        listener
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let target = listener.local_addr().unwrap();
        let mut t = ResponseAssembler::new(GsmtapTap::new(FakeCard::new(), target, false));
        let mut select = vec![0x00, 0xA4, 0x04, 0x00, u8::try_from(AID.len()).unwrap()];
        select.extend_from_slice(&AID);
        let fci = t.transmit(&select).unwrap();
        let put_key = [0x80, 0xD8, 0x00, 0x81, 0x02, 0x30, 0x88];
        let r = t.transmit(&put_key).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            let mut buf = [0u8; 2048];
            let n = listener.recv(&mut buf).unwrap();
            got.push(buf[..n].to_vec());
        }
        // SELECT (answered 61xx), GET RESPONSE with the FCI, PUT KEY redacted.
        let first = &got[0][16..];
        assert_eq!(&first[..select.len()], select.as_slice());
        assert_eq!(first[first.len() - 2], 0x61);
        assert_eq!(&got[1][16..21], &[0x00, 0xC0, 0x00, 0x00, got[1][20]]);
        assert_eq!(&got[1][21..], fci.as_slice());
        let redacted = Frame {
            ts: None,
            c_apdu: crate::trace::gsmtap::REDACTED_COMMAND.to_vec(),
            r_apdu: r,
        };
        assert_eq!(got[2], gsmtap_payload(&redacted));
    }

    #[test]
    fn no_listener_does_not_fail_the_command() {
        // A port with nothing bound: the datagrams are lost (or refused), the exchanges work.
        let free = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = free.local_addr().unwrap();
        drop(free);
        let mut t = GsmtapTap::new(FakeCard::new(), target, false);
        for _ in 0..3 {
            let r = t.transmit(&[0x00, 0xA4, 0x04, 0x00]).unwrap();
            assert!(r.len() >= 2);
        }
    }
}

//! OPEN CHANNEL (TS 102 223 §6.4.27 / §6.6.27, clause recalled), default-bearer and packet
//! data service forms, UICC in client mode.
//!
//! ```text
//! D0 L  81 03 nn 40 qq  82 02 81 82  [05 alpha] [1E icon]  35 bearer  39 02 buffer
//!       [47 APN]  [3E local address]  [0D login] [0D password]  3C 03 proto port  3E dest
//! ```

use super::typed::{ignore_or_reject, once, Body};
use super::{command_type, device, tags, CatError, CommandDetails, Ctlv, ProactiveCommand};
use std::net::{Ipv4Addr, Ipv6Addr};

const CONTEXT: &str = "OPEN CHANNEL";

/// An OPEN CHANNEL proactive command.
///
/// Parsing keeps what a terminal needs to open a client channel; the icon, the local address
/// (a `3E` before `3C`) and the login/password text strings are read past and not kept. An empty
/// `bearer` stands for "no bearer description" (UICC server mode has none); an empty `3E` data
/// destination parses as `None`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenChannel {
    pub number: u8,
    /// Command qualifier (§8.6): see [`OpenChannel::IMMEDIATE`] and the other bits.
    pub qualifier: u8,
    /// Alpha identifier (`05`), `Some(vec![])` for the common empty `05 00`.
    pub alpha: Option<Vec<u8>>,
    /// Value of the bearer description (`35`), e.g. `[0x03]` for the default bearer.
    pub bearer: Vec<u8>,
    /// Buffer size requested (`39`).
    pub buffer_size: u16,
    /// Network access name (`47`) as sent: label-encoded per 3GPP TS 23.003 (see
    /// [`OpenChannel::apn`]).
    pub network_access_name: Option<Vec<u8>>,
    /// UICC/terminal interface transport level (`3C`).
    pub transport: Option<Transport>,
    /// Data destination address (the `3E` after `3C`).
    pub destination: Option<OtherAddress>,
}

impl OpenChannel {
    /// Qualifier b1: immediate link establishment (else on demand).
    pub const IMMEDIATE: u8 = 0x01;
    /// Qualifier b2: automatic reconnection.
    pub const AUTOMATIC_RECONNECTION: u8 = 0x02;
    /// Qualifier b3: background mode (link-up reported later by a channel status event).
    pub const BACKGROUND: u8 = 0x04;
    /// Qualifier b4: DNS server address(es) requested.
    pub const DNS_REQUESTED: u8 = 0x08;
    /// Bearer type `03`: default bearer for the requested transport layer (§8.52, recalled).
    pub const DEFAULT_BEARER: u8 = 0x03;

    /// OPEN CHANNEL for a TCP client connection (UICC remote) to `ip`:`port` over the default
    /// bearer, immediate link establishment, no alpha identifier or network access name.
    pub fn tcp_client(number: u8, ip: Ipv4Addr, port: u16, buffer_size: u16) -> Self {
        Self {
            number,
            qualifier: Self::IMMEDIATE,
            alpha: None,
            bearer: vec![Self::DEFAULT_BEARER],
            buffer_size,
            network_access_name: None,
            transport: Some(Transport {
                protocol: Transport::TCP_CLIENT_REMOTE,
                port,
            }),
            destination: Some(OtherAddress::from_ipv4(ip)),
        }
    }

    /// The command details this command carries.
    pub fn details(&self) -> CommandDetails {
        CommandDetails {
            number: self.number,
            kind: command_type::OPEN_CHANNEL,
            qualifier: self.qualifier,
        }
    }

    /// The network access name as text, for logs: labels joined with dots; when a length byte
    /// overruns (cards that put a literal dot in, like `07 "megafon.ru"`), the rest is taken as
    /// it is.
    pub fn apn(&self) -> Option<String> {
        let mut rest = self.network_access_name.as_deref()?;
        let mut text = Vec::new();
        while let Some((&len, tail)) = rest.split_first() {
            match tail.get(..usize::from(len)) {
                Some(label) => {
                    if !text.is_empty() {
                        text.push(b'.');
                    }
                    text.extend_from_slice(label);
                    rest = tail.get(usize::from(len)..).unwrap_or_default();
                }
                None => {
                    text.extend_from_slice(rest);
                    break;
                }
            }
        }
        Some(String::from_utf8_lossy(&text).into_owned())
    }

    pub(crate) fn parse_body(body: &Body<'_>) -> Result<Self, CatError> {
        body.to(device::TERMINAL, CONTEXT)?;
        let mut alpha = None;
        let mut bearer = None;
        let mut buffer_size = None;
        let mut network_access_name = None;
        let mut transport = None;
        let mut local_seen = false;
        let mut destination = None;
        for (offset, t) in body.tlvs() {
            let bad = |reason| CatError::BadValue {
                context: CONTEXT,
                tag: t.tag,
                offset,
                reason,
            };
            match t.tag {
                tags::ALPHA_IDENTIFIER => once(&mut alpha, t.value.clone(), CONTEXT, t, offset)?,
                tags::BEARER_DESCRIPTION if t.value.is_empty() => {
                    return Err(bad("bearer description is empty"))
                }
                tags::BEARER_DESCRIPTION => once(&mut bearer, t.value.clone(), CONTEXT, t, offset)?,
                tags::BUFFER_SIZE => {
                    let [hi, lo] = t.value.as_slice() else {
                        return Err(bad("buffer size must be 2 bytes"));
                    };
                    once(
                        &mut buffer_size,
                        u16::from_be_bytes([*hi, *lo]),
                        CONTEXT,
                        t,
                        offset,
                    )?;
                }
                tags::NETWORK_ACCESS_NAME => {
                    once(
                        &mut network_access_name,
                        t.value.clone(),
                        CONTEXT,
                        t,
                        offset,
                    )?;
                }
                tags::TRANSPORT_LEVEL => {
                    let parsed = Transport::from_value(&t.value)
                        .ok_or(bad("transport level must be 3 bytes"))?;
                    once(&mut transport, parsed, CONTEXT, t, offset)?;
                }
                // Before the transport level: the local address, read past.
                tags::OTHER_ADDRESS if transport.is_none() => {
                    if local_seen {
                        return Err(repeated(t, offset));
                    }
                    local_seen = true;
                }
                tags::OTHER_ADDRESS => {
                    let parsed = OtherAddress::from_value(&t.value).map_err(bad)?;
                    once(&mut destination, parsed, CONTEXT, t, offset)?;
                }
                tags::TEXT_STRING => {}
                _ => ignore_or_reject(CONTEXT, t, offset)?,
            }
        }
        Ok(Self {
            number: body.cmd.details.number,
            qualifier: body.cmd.details.qualifier,
            alpha,
            bearer: bearer.unwrap_or_default(),
            buffer_size: buffer_size.ok_or(CatError::Missing {
                context: CONTEXT,
                what: "buffer size",
                tag: tags::BUFFER_SIZE,
            })?,
            network_access_name,
            transport,
            destination: destination.flatten(),
        })
    }

    /// The untyped command: non-CR tags like the traces, alpha (`05`) only if `Some`, bearer
    /// (`35`) only if non-empty. A destination needs a transport level (else it would read back
    /// as the local address).
    pub fn to_command(&self) -> Result<ProactiveCommand, CatError> {
        if self.destination.is_some() && self.transport.is_none() {
            return Err(CatError::Invalid(
                "OPEN CHANNEL data destination address without a transport level",
            ));
        }
        let mut tlvs = Vec::new();
        if let Some(a) = &self.alpha {
            tlvs.push(Ctlv::new(tags::ALPHA_IDENTIFIER, a.clone()));
        }
        if !self.bearer.is_empty() {
            tlvs.push(Ctlv::new(tags::BEARER_DESCRIPTION, self.bearer.clone()));
        }
        tlvs.push(Ctlv::new(tags::BUFFER_SIZE, self.buffer_size.to_be_bytes()));
        if let Some(n) = &self.network_access_name {
            tlvs.push(Ctlv::new(tags::NETWORK_ACCESS_NAME, n.clone()));
        }
        if let Some(t) = &self.transport {
            tlvs.push(Ctlv::new(tags::TRANSPORT_LEVEL, t.to_value()));
        }
        if let Some(d) = &self.destination {
            tlvs.push(Ctlv::new(tags::OTHER_ADDRESS, d.to_value()));
        }
        Ok(ProactiveCommand {
            details: self.details(),
            destination: device::TERMINAL,
            tlvs,
        })
    }
}

fn repeated(t: &Ctlv, offset: usize) -> CatError {
    CatError::Repeated {
        context: CONTEXT,
        tag: t.encoded_tag(),
        offset,
    }
}

/// UICC/terminal interface transport level (TS 102 223 §8.59, clause recalled): protocol type
/// and port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transport {
    /// `01` UDP client remote, `02` TCP client remote, `03` TCP server, `04` UDP client local,
    /// `05` TCP client local, `06` direct communication channel.
    pub protocol: u8,
    pub port: u16,
}

impl Transport {
    /// Protocol `01`: UDP, UICC in client mode, remote connection.
    pub const UDP_CLIENT_REMOTE: u8 = 0x01;
    /// Protocol `02`: TCP, UICC in client mode, remote connection.
    pub const TCP_CLIENT_REMOTE: u8 = 0x02;
    /// Protocol `03`: TCP, UICC in server mode.
    pub const TCP_SERVER: u8 = 0x03;

    /// The three value bytes.
    pub fn to_value(&self) -> [u8; 3] {
        let [hi, lo] = self.port.to_be_bytes();
        [self.protocol, hi, lo]
    }

    /// Reads a three-byte value.
    pub fn from_value(value: &[u8]) -> Option<Self> {
        match value {
            [protocol, hi, lo] => Some(Self {
                protocol: *protocol,
                port: u16::from_be_bytes([*hi, *lo]),
            }),
            _ => None,
        }
    }
}

/// Other address (TS 102 223 §8.58, clause recalled): type of address and the address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OtherAddress {
    /// `21` IPv4, `57` IPv6.
    pub kind: u8,
    pub address: Vec<u8>,
}

impl OtherAddress {
    /// Type of address `21`: IPv4 (4 bytes).
    pub const IPV4: u8 = 0x21;
    /// Type of address `57`: IPv6 (16 bytes).
    pub const IPV6: u8 = 0x57;

    /// An IPv4 address.
    pub fn from_ipv4(ip: Ipv4Addr) -> Self {
        Self {
            kind: Self::IPV4,
            address: ip.octets().to_vec(),
        }
    }

    /// The address if it is a well-formed IPv4 address.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        match (self.kind, <[u8; 4]>::try_from(self.address.as_slice())) {
            (Self::IPV4, Ok(octets)) => Some(Ipv4Addr::from(octets)),
            _ => None,
        }
    }

    /// The address if it is a well-formed IPv6 address.
    pub fn ipv6(&self) -> Option<Ipv6Addr> {
        match (self.kind, <[u8; 16]>::try_from(self.address.as_slice())) {
            (Self::IPV6, Ok(octets)) => Some(Ipv6Addr::from(octets)),
            _ => None,
        }
    }

    /// The value bytes: type, then address.
    pub fn to_value(&self) -> Vec<u8> {
        let mut v = vec![self.kind];
        v.extend_from_slice(&self.address);
        v
    }

    /// Reads a value: empty is `None` (dynamic/absent address); IPv4 must be 4 bytes and IPv6
    /// 16; other types are kept raw.
    pub fn from_value(value: &[u8]) -> Result<Option<Self>, &'static str> {
        let Some((&kind, address)) = value.split_first() else {
            return Ok(None);
        };
        match (kind, address.len()) {
            (Self::IPV4, 4) | (Self::IPV6, 16) => {}
            (Self::IPV4, _) => return Err("IPv4 address must be 4 bytes"),
            (Self::IPV6, _) => return Err("IPv6 address must be 16 bytes"),
            _ => {}
        }
        Ok(Some(Self {
            kind,
            address: address.to_vec(),
        }))
    }
}

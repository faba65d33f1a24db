//! Classic libpcap capture files holding UDP datagrams and TCP segments over IPv4, for tools
//! that read captures (Wireshark, tshark, tcpdump, pyshark).
//!
//! File format: libpcap `pcap-savefile(5)` (IETF draft-ietf-opsawg-pcap): a 24-byte global
//! header (magic `A1B2C3D4` written in the machine-independent little-endian order this module
//! always uses, version 2.4, microsecond timestamps), then per packet a 16-byte record header
//! (seconds, microseconds, captured length, original length) and the packet.
//!
//! Link type: `LINKTYPE_RAW` (101): each packet starts with its IPv4 header, no link layer, so
//! there is no made-up Ethernet address in the file. IPv4 header checksum per RFC 791 §3.1 /
//! RFC 1071. UDP datagrams go 127.0.0.1 → 127.0.0.1, checksum per RFC 768 (over the
//! pseudo-header; a computed zero is sent as `FFFF`). TCP segments (RFC 9293 §3.1) have a
//! 20-byte header without options, checksum over the same pseudo-header with protocol 6;
//! [`TcpConnection`] numbers the segments of one made-up connection (handshake, data both
//! ways, FIN both ways).

use std::io::{self, Write};

/// The magic number of a classic pcap file with microsecond timestamps.
pub const MAGIC_MICROS: u32 = 0xA1B2_C3D4;
/// `LINKTYPE_RAW`: packets are raw IP datagrams (tcpdump.org link-layer header types).
pub const LINKTYPE_RAW: u32 = 101;
/// The largest packet a record holds (the snapshot length written in the global header).
pub const SNAPLEN: u32 = 65_535;

const IPV4_HEADER_LEN: usize = 20;
const UDP_HEADER_LEN: usize = 8;
const LOOPBACK: [u8; 4] = [127, 0, 0, 1];
const TCP_HEADER_LEN: usize = 20;
const PROTOCOL_TCP: u8 = 6;
const PROTOCOL_UDP: u8 = 17;
const TTL: u8 = 64;
/// Don't Fragment: the datagrams are written whole.
const FLAG_DF: u16 = 0x4000;

/// The largest UDP payload one IPv4 datagram carries.
pub const MAX_UDP_PAYLOAD: usize = 65_535 - IPV4_HEADER_LEN - UDP_HEADER_LEN;

/// A capture time: seconds and microseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp {
    pub secs: u32,
    pub micros: u32,
}

impl Timestamp {
    /// The time one microsecond later (saturating at the end of the 32-bit range).
    pub fn next(self) -> Self {
        if self.micros < 999_999 {
            Self {
                secs: self.secs,
                micros: self.micros + 1,
            }
        } else {
            match self.secs.checked_add(1) {
                Some(secs) => Self { secs, micros: 0 },
                None => self,
            }
        }
    }

    /// A time since the Unix epoch, when a pcap record can hold it (1970 to 2106).
    pub fn from_system_time(t: std::time::SystemTime) -> Option<Self> {
        let since = t.duration_since(std::time::UNIX_EPOCH).ok()?;
        Some(Self {
            secs: u32::try_from(since.as_secs()).ok()?,
            micros: since.subsec_micros(),
        })
    }
}

/// The capture time of each packet given the time of each (RFC 3339, as a trace's `ts`): that
/// time when a pcap record can hold it (1970 to 2106), else one microsecond after the previous
/// packet's (the first at the epoch), so the order is kept.
pub fn capture_times<'a>(times: impl IntoIterator<Item = Option<&'a str>>) -> Vec<Timestamp> {
    let mut previous: Option<Timestamp> = None;
    times
        .into_iter()
        .map(|t| {
            let parsed = t
                .and_then(|t| humantime::parse_rfc3339(t).ok())
                .and_then(Timestamp::from_system_time);
            let ts = parsed.unwrap_or_else(|| previous.map(Timestamp::next).unwrap_or_default());
            previous = Some(ts);
            ts
        })
        .collect()
}

/// The 24-byte global header of a file of raw IP packets.
pub fn global_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&MAGIC_MICROS.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes()); // version major
    h[6..8].copy_from_slice(&4u16.to_le_bytes()); // version minor
                                                  // thiszone (8..12) and sigfigs (12..16): 0
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
    h
}

/// The 16-byte header of a record holding a whole packet of `len` bytes.
pub fn record_header(ts: Timestamp, len: u32) -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&ts.secs.to_le_bytes());
    h[4..8].copy_from_slice(&ts.micros.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    h
}

/// The one's-complement sum of 16-bit big-endian words (RFC 1071), before the final complement.
fn ones_complement_sum(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(u16::from_be_bytes([*last, 0]));
    }
    sum
}

fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    // The loop leaves at most 16 bits.
    !u16::try_from(sum).unwrap_or(0xFFFF)
}

/// The Internet checksum of an IPv4 header whose checksum field is zero (RFC 791 §3.1).
pub fn ipv4_checksum(header: &[u8]) -> u16 {
    fold(ones_complement_sum(0, header))
}

fn len16(n: usize, what: &str) -> io::Result<u16> {
    u16::try_from(n).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{what} of {n} bytes is more than an IPv4 datagram holds (65535)"),
        )
    })
}

/// An IPv4 packet around `transport` (a UDP datagram or TCP segment whose checksum field is
/// zero), with the transport checksum over the pseudo-header filled in at `checksum_at`.
fn ipv4_packet(
    (src, dst): ([u8; 4], [u8; 4]),
    protocol: u8,
    id: u16,
    mut transport: Vec<u8>,
    checksum_at: usize,
) -> io::Result<Vec<u8>> {
    let transport_len = len16(transport.len(), "a datagram")?;
    let total = len16(IPV4_HEADER_LEN + transport.len(), "an IPv4 packet")?;
    // Pseudo-header: source, destination, zero, protocol, length (RFC 768; RFC 9293 §3.1).
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&src);
    pseudo.extend_from_slice(&dst);
    pseudo.extend_from_slice(&[0, protocol]);
    pseudo.extend_from_slice(&transport_len.to_be_bytes());
    let mut checksum = fold(ones_complement_sum(
        ones_complement_sum(0, &pseudo),
        &transport,
    ));
    if protocol == PROTOCOL_UDP && checksum == 0 {
        // UDP: zero means "no checksum" (RFC 768).
        checksum = 0xFFFF;
    }
    if let Some(field) = transport.get_mut(checksum_at..checksum_at + 2) {
        field.copy_from_slice(&checksum.to_be_bytes());
    }

    let mut p = Vec::with_capacity(usize::from(total));
    p.push(0x45); // version 4, header length 5 words
    p.push(0); // DSCP, ECN
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&FLAG_DF.to_be_bytes());
    p.push(TTL);
    p.push(protocol);
    p.extend_from_slice(&[0, 0]); // checksum, filled below
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let checksum = ipv4_checksum(&p);
    p[10..12].copy_from_slice(&checksum.to_be_bytes());
    p.extend_from_slice(&transport);
    Ok(p)
}

/// `payload` as a UDP datagram from 127.0.0.1:`port` to 127.0.0.1:`port` in an IPv4 packet;
/// `id` is the IPv4 identification field. Refuses a payload over [`MAX_UDP_PAYLOAD`].
pub fn ipv4_udp(payload: &[u8], port: u16, id: u16) -> io::Result<Vec<u8>> {
    let udp_len = len16(UDP_HEADER_LEN + payload.len(), "a UDP datagram")?;
    len16(IPV4_HEADER_LEN + usize::from(udp_len), "an IPv4 packet")?;
    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]); // checksum, filled by ipv4_packet
    udp.extend_from_slice(payload);
    ipv4_packet((LOOPBACK, LOOPBACK), PROTOCOL_UDP, id, udp, 6)
}

/// An IPv4 address and a TCP port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub addr: [u8; 4],
    pub port: u16,
}

/// One TCP segment's header fields (RFC 9293 §3.1), without options.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSegment {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    /// Meaningful with [`TCP_ACK`] set; zero otherwise.
    pub ack: u32,
    /// Control bits: [`TCP_FIN`], [`TCP_SYN`], [`TCP_PSH`], [`TCP_ACK`].
    pub flags: u8,
}

/// The TCP FIN control bit.
pub const TCP_FIN: u8 = 0x01;
/// The TCP SYN control bit.
pub const TCP_SYN: u8 = 0x02;
/// The TCP PSH control bit.
pub const TCP_PSH: u8 = 0x08;
/// The TCP ACK control bit.
pub const TCP_ACK: u8 = 0x10;
/// The window every segment advertises.
pub const TCP_WINDOW: u16 = 65_535;
/// The largest payload one segment (20-byte header, no options) carries in an IPv4 packet.
pub const MAX_TCP_PAYLOAD: usize = 65_535 - IPV4_HEADER_LEN - TCP_HEADER_LEN;

/// `payload` in `segment` in an IPv4 packet; `id` is the IPv4 identification field. Refuses a
/// payload over [`MAX_TCP_PAYLOAD`].
pub fn ipv4_tcp(segment: &TcpSegment, payload: &[u8], id: u16) -> io::Result<Vec<u8>> {
    len16(
        IPV4_HEADER_LEN + TCP_HEADER_LEN + payload.len(),
        "an IPv4 packet",
    )?;
    let mut tcp = Vec::with_capacity(TCP_HEADER_LEN + payload.len());
    tcp.extend_from_slice(&segment.src.port.to_be_bytes());
    tcp.extend_from_slice(&segment.dst.port.to_be_bytes());
    tcp.extend_from_slice(&segment.seq.to_be_bytes());
    tcp.extend_from_slice(&segment.ack.to_be_bytes());
    tcp.push(0x50); // data offset 5 words, reserved bits zero
    tcp.push(segment.flags);
    tcp.extend_from_slice(&TCP_WINDOW.to_be_bytes());
    tcp.extend_from_slice(&[0, 0]); // checksum, filled by ipv4_packet
    tcp.extend_from_slice(&[0, 0]); // urgent pointer
    tcp.extend_from_slice(payload);
    ipv4_packet(
        (segment.src.addr, segment.dst.addr),
        PROTOCOL_TCP,
        id,
        tcp,
        16,
    )
}

/// The initial sequence number of the client of a [`TcpConnection`] (any value will do; a
/// fixed one keeps exports reproducible).
pub const CLIENT_ISN: u32 = 0x1000_0000;
/// The initial sequence number of the server of a [`TcpConnection`].
pub const SERVER_ISN: u32 = 0x2000_0000;

/// The segments of one made-up TCP connection, numbered as a real one would be: the client's
/// three-way handshake, data either way (each segment acknowledging all the peer has sent),
/// then FIN both ways, the client first.
#[derive(Clone, Debug)]
pub struct TcpConnection {
    client: Endpoint,
    server: Endpoint,
    /// The next sequence number of each side.
    client_next: u32,
    server_next: u32,
}

impl TcpConnection {
    pub fn new(client: Endpoint, server: Endpoint) -> Self {
        Self {
            client,
            server,
            client_next: CLIENT_ISN,
            server_next: SERVER_ISN,
        }
    }

    fn segment(&mut self, from_client: bool, flags: u8, advance: u32) -> TcpSegment {
        // Sequence numbers count modulo 2^32 (RFC 9293 §3.4).
        let (src, dst, seq, ack) = if from_client {
            let seq = self.client_next;
            self.client_next = seq.wrapping_add(advance);
            (self.client, self.server, seq, self.server_next)
        } else {
            let seq = self.server_next;
            self.server_next = seq.wrapping_add(advance);
            (self.server, self.client, seq, self.client_next)
        };
        TcpSegment {
            src,
            dst,
            seq,
            ack: if flags & TCP_ACK == 0 { 0 } else { ack },
            flags,
        }
    }

    /// SYN, SYN-ACK, ACK.
    pub fn open(&mut self) -> [TcpSegment; 3] {
        // SYN and FIN each take one sequence number.
        let syn = self.segment(true, TCP_SYN, 1);
        let syn_ack = self.segment(false, TCP_SYN | TCP_ACK, 1);
        let ack = self.segment(true, TCP_ACK, 0);
        [syn, syn_ack, ack]
    }

    /// The segments carrying `payload` from the client (`from_client`) or the server (PSH,
    /// ACK): one, unless it is more than [`MAX_TCP_PAYLOAD`] bytes; none when it is empty.
    pub fn data<'p>(
        &mut self,
        from_client: bool,
        payload: &'p [u8],
    ) -> Vec<(TcpSegment, &'p [u8])> {
        payload
            .chunks(MAX_TCP_PAYLOAD)
            .map(|chunk| {
                // A chunk is at most MAX_TCP_PAYLOAD bytes.
                let len = u32::try_from(chunk.len()).unwrap_or(0);
                (self.segment(from_client, TCP_PSH | TCP_ACK, len), chunk)
            })
            .collect()
    }

    /// The client's FIN, the server's FIN, the client's last ACK.
    pub fn close(&mut self) -> [TcpSegment; 3] {
        let fin = self.segment(true, TCP_FIN | TCP_ACK, 1);
        let fin_ack = self.segment(false, TCP_FIN | TCP_ACK, 1);
        let ack = self.segment(true, TCP_ACK, 0);
        [fin, fin_ack, ack]
    }
}

/// One packet of a capture.
#[derive(Clone, Copy, Debug)]
pub enum Packet<'a> {
    /// A UDP datagram 127.0.0.1:`port` → 127.0.0.1:`port`.
    Udp { port: u16, payload: &'a [u8] },
    /// A TCP segment.
    Tcp {
        segment: TcpSegment,
        payload: &'a [u8],
    },
}

/// Writes a pcap file, one record per `(time, packet)`. Fails with `InvalidInput` on a packet
/// larger than an IPv4 datagram.
pub fn write_capture<'a>(
    mut out: impl Write,
    packets: impl IntoIterator<Item = (Timestamp, Packet<'a>)>,
) -> io::Result<()> {
    out.write_all(&global_header())?;
    for (i, (ts, packet)) in packets.into_iter().enumerate() {
        // The identification field only has to differ between neighbours; it wraps.
        let id = u16::try_from(i % 0x1_0000).unwrap_or(0);
        let packet = match packet {
            Packet::Udp { port, payload } => ipv4_udp(payload, port, id)?,
            Packet::Tcp { segment, payload } => ipv4_tcp(&segment, payload, id)?,
        };
        let len = u32::try_from(packet.len()).unwrap_or(SNAPLEN);
        out.write_all(&record_header(ts, len))?;
        out.write_all(&packet)?;
    }
    out.flush()
}

/// Writes a pcap file of UDP datagrams (127.0.0.1:`port` both ways), one record per
/// `(time, payload)`.
pub fn write_udp_capture<'a>(
    out: impl Write,
    port: u16,
    datagrams: impl IntoIterator<Item = (Timestamp, &'a [u8])>,
) -> io::Result<()> {
    write_capture(
        out,
        datagrams
            .into_iter()
            .map(|(ts, payload)| (ts, Packet::Udp { port, payload })),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_header_is_little_endian_micros_raw_ip() {
        assert_eq!(
            global_header(),
            [
                0xD4, 0xC3, 0xB2, 0xA1, 0x02, 0x00, 0x04, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF,
                0x00, 0x00, 101, 0, 0, 0
            ]
        );
    }

    #[test]
    fn record_header_holds_time_and_both_lengths() {
        let ts = Timestamp {
            secs: 0x6543_2100,
            micros: 999_999,
        };
        assert_eq!(
            record_header(ts, 0x41),
            [0x00, 0x21, 0x43, 0x65, 0x3F, 0x42, 0x0F, 0x00, 0x41, 0, 0, 0, 0x41, 0, 0, 0]
        );
    }

    // RFC 1071 §3's worked example: the sum of 0001 f203 f4f5 f6f7 is ddf2 (complement 220d).
    #[test]
    fn checksum_matches_rfc1071_example() {
        let bytes = [0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7];
        assert_eq!(ipv4_checksum(&bytes), !0xDDF2);
    }

    // A well-known IPv4 header (Wikipedia "Internet checksum" / "IPv4 header checksum"
    // example): 4500 0073 0000 4000 4011 [b861] c0a8 0001 c0a8 00c7.
    #[test]
    fn checksum_matches_the_classic_ipv4_example() {
        let header = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xC0, 0xA8,
            0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7,
        ];
        assert_eq!(ipv4_checksum(&header), 0xB861);
    }

    #[test]
    fn datagrams_verify_and_carry_the_payload() {
        let payload = [0x02, 0x04, 0x04, 0x00, 0xAA, 0xBB, 0xCC];
        let p = ipv4_udp(&payload, 4729, 7).unwrap();
        assert_eq!(p.len(), 20 + 8 + payload.len());
        assert_eq!(&p[..4], &[0x45, 0x00, 0x00, 35]);
        assert_eq!(&p[4..6], &[0, 7]);
        assert_eq!(&p[12..20], &[127, 0, 0, 1, 127, 0, 0, 1]);
        // A header with its checksum in place sums to zero (RFC 1071).
        assert_eq!(ipv4_checksum(&p[..20]), 0);
        assert_eq!(&p[20..26], &[0x12, 0x79, 0x12, 0x79, 0, 15]);
        let mut pseudo = vec![127, 0, 0, 1, 127, 0, 0, 1, 0, 17, 0, 15];
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(ipv4_checksum(&pseudo), 0);
        assert_eq!(&p[28..], &payload);
    }

    #[test]
    fn oversized_payloads_are_refused() {
        assert!(ipv4_udp(&vec![0; MAX_UDP_PAYLOAD], 1, 0).is_ok());
        let err = ipv4_udp(&vec![0; MAX_UDP_PAYLOAD + 1], 1, 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    const CARD: Endpoint = Endpoint {
        addr: [10, 0, 0, 2],
        port: 49153,
    };
    const SERVER: Endpoint = Endpoint {
        addr: [10, 0, 0, 1],
        port: 443,
    };

    // Checksums worked out apart from this code (a Python RFC 1071 sum over the pseudo-header
    // and segment, and over the IPv4 header).
    #[test]
    fn tcp_segments_have_a_plain_header_and_both_checksums() {
        let segment = TcpSegment {
            src: CARD,
            dst: SERVER,
            seq: 0x1000_0001,
            ack: 0x2000_0001,
            flags: TCP_PSH | TCP_ACK,
        };
        let p = ipv4_tcp(&segment, &[0x16, 0x03, 0x03], 9).unwrap();
        assert_eq!(
            &p[..20],
            &[0x45, 0, 0, 43, 0, 9, 0x40, 0, 64, 6, 0x26, 0xC2, 10, 0, 0, 2, 10, 0, 0, 1]
        );
        assert_eq!(
            &p[20..40],
            &[
                0xC0, 0x01, 0x01, 0xBB, 0x10, 0, 0, 1, 0x20, 0, 0, 1, 0x50, 0x18, 0xFF, 0xFF, 0x91,
                0x05, 0, 0
            ]
        );
        assert_eq!(&p[40..], &[0x16, 0x03, 0x03]);
        // With the checksums in place, both sums come to zero (RFC 1071).
        assert_eq!(ipv4_checksum(&p[..20]), 0);
        let mut pseudo = vec![10, 0, 0, 2, 10, 0, 0, 1, 0, 6, 0, 23];
        pseudo.extend_from_slice(&p[20..]);
        assert_eq!(ipv4_checksum(&pseudo), 0);
    }

    #[test]
    fn tcp_checksums_verify_for_any_length_and_flags() {
        let mut c = TcpConnection::new(CARD, SERVER);
        let [syn, ..] = c.open();
        for len in [0, 1, 2, 255, 1000] {
            let payload: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i * 7 % 256).unwrap())
                .collect();
            let p = ipv4_tcp(&syn, &payload, 1).unwrap();
            assert_eq!(p.len(), 40 + len);
            assert_eq!(ipv4_checksum(&p[..20]), 0);
            let mut pseudo = vec![10, 0, 0, 2, 10, 0, 0, 1, 0, 6];
            pseudo.extend_from_slice(&u16::try_from(20 + len).unwrap().to_be_bytes());
            pseudo.extend_from_slice(&p[20..]);
            assert_eq!(ipv4_checksum(&pseudo), 0, "{len}");
        }
        assert!(ipv4_tcp(&syn, &vec![0; MAX_TCP_PAYLOAD], 0).is_ok());
        let err = ipv4_tcp(&syn, &vec![0; MAX_TCP_PAYLOAD + 1], 0).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn a_connection_numbers_its_segments_as_tcp_does() {
        let mut c = TcpConnection::new(CARD, SERVER);
        let seg = |s: &TcpSegment| (s.src.port, s.seq, s.ack, s.flags);
        let (ci, si) = (CLIENT_ISN, SERVER_ISN);
        let open = c.open();
        assert_eq!(
            open.map(|s| seg(&s)),
            [
                (49153, ci, 0, TCP_SYN),
                (443, si, ci + 1, TCP_SYN | TCP_ACK),
                (49153, ci + 1, si + 1, TCP_ACK)
            ]
        );
        assert_eq!(open[0].dst, SERVER);
        assert_eq!(open[1].dst, CARD);
        let data = |c: &mut TcpConnection, from_client, len: usize| {
            let payload = vec![0; len];
            let segments = c.data(from_client, &payload);
            assert_eq!(segments.len(), 1);
            seg(&segments[0].0)
        };
        let psh = TCP_PSH | TCP_ACK;
        assert_eq!(data(&mut c, true, 5), (49153, ci + 1, si + 1, psh));
        assert_eq!(data(&mut c, true, 7), (49153, ci + 6, si + 1, psh));
        assert_eq!(data(&mut c, false, 3), (443, si + 1, ci + 13, psh));
        assert_eq!(data(&mut c, true, 2), (49153, ci + 13, si + 4, psh));
        assert!(c.data(false, &[]).is_empty());
        assert_eq!(
            c.close().map(|s| seg(&s)),
            [
                (49153, ci + 15, si + 4, TCP_FIN | TCP_ACK),
                (443, si + 4, ci + 16, TCP_FIN | TCP_ACK),
                (49153, ci + 16, si + 5, TCP_ACK)
            ]
        );
    }

    #[test]
    fn large_pieces_are_split_and_numbers_wrap() {
        let mut c = TcpConnection::new(CARD, SERVER);
        c.client_next = u32::MAX - 1;
        let payload = vec![0xAB; MAX_TCP_PAYLOAD + 10];
        let segments = c.data(true, &payload);
        assert_eq!(segments.len(), 2);
        assert_eq!(segments[0].0.seq, u32::MAX - 1);
        assert_eq!(segments[0].1.len(), MAX_TCP_PAYLOAD);
        let expected = u32::try_from(MAX_TCP_PAYLOAD).unwrap() - 2;
        assert_eq!(segments[1].0.seq, expected);
        assert_eq!(segments[1].1.len(), 10);
        assert_eq!(c.client_next, expected + 10);
    }

    #[test]
    fn a_capture_mixes_udp_and_tcp_records() {
        let mut c = TcpConnection::new(CARD, SERVER);
        let [syn, ..] = c.open();
        let ts = Timestamp { secs: 1, micros: 2 };
        let mut out = Vec::new();
        write_capture(
            &mut out,
            [
                (
                    ts,
                    Packet::Udp {
                        port: 4729,
                        payload: &[1, 2],
                    },
                ),
                (
                    ts.next(),
                    Packet::Tcp {
                        segment: syn,
                        payload: &[],
                    },
                ),
            ],
        )
        .unwrap();
        assert_eq!(&out[..24], &global_header());
        assert_eq!(&out[24..40], &record_header(ts, 30));
        assert_eq!(&out[40..70], &ipv4_udp(&[1, 2], 4729, 0).unwrap());
        assert_eq!(&out[70..86], &record_header(ts.next(), 40));
        assert_eq!(&out[86..], &ipv4_tcp(&syn, &[], 1).unwrap());
    }

    #[test]
    fn capture_times_keep_the_order_where_a_time_is_missing() {
        let t = capture_times([None, Some("2026-01-01T00:00:00Z"), None, Some("bad")]);
        let at = |micros| Timestamp {
            secs: 1_767_225_600,
            micros,
        };
        assert_eq!(t, [Timestamp::default(), at(0), at(1), at(2)]);
    }

    #[test]
    fn timestamps_step_by_a_microsecond() {
        let t = Timestamp {
            secs: 1,
            micros: 999_999,
        };
        assert_eq!(t.next(), Timestamp { secs: 2, micros: 0 });
        let last = Timestamp {
            secs: u32::MAX,
            micros: 999_999,
        };
        assert_eq!(last.next(), last);
        let t = humantime::parse_rfc3339("2026-01-01T00:00:00.000002Z").unwrap();
        assert_eq!(
            Timestamp::from_system_time(t),
            Some(Timestamp {
                secs: 1_767_225_600,
                micros: 2
            })
        );
        let late = humantime::parse_rfc3339("2107-01-01T00:00:00Z").unwrap();
        assert_eq!(Timestamp::from_system_time(late), None);
    }
}

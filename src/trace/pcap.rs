//! Classic libpcap capture files holding UDP datagrams over IPv4, for tools that read captures
//! (Wireshark, tshark, tcpdump, pyshark).
//!
//! File format: libpcap `pcap-savefile(5)` (IETF draft-ietf-opsawg-pcap): a 24-byte global
//! header (magic `A1B2C3D4` written in the machine-independent little-endian order this module
//! always uses, version 2.4, microsecond timestamps), then per packet a 16-byte record header
//! (seconds, microseconds, captured length, original length) and the packet.
//!
//! Link type: `LINKTYPE_RAW` (101): each packet starts with its IPv4 header, no link layer, so
//! there is no made-up Ethernet address in the file. Each datagram is 127.0.0.1 → 127.0.0.1,
//! IPv4 header checksum per RFC 791 §3.1 / RFC 1071, UDP checksum per RFC 768 (over the
//! pseudo-header; a computed zero is sent as `FFFF`).

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

/// `payload` as a UDP datagram from 127.0.0.1:`port` to 127.0.0.1:`port` in an IPv4 packet;
/// `id` is the IPv4 identification field. Refuses a payload over [`MAX_UDP_PAYLOAD`].
pub fn ipv4_udp(payload: &[u8], port: u16, id: u16) -> io::Result<Vec<u8>> {
    let udp_len = len16(UDP_HEADER_LEN + payload.len(), "a UDP datagram")?;
    let total = len16(IPV4_HEADER_LEN + usize::from(udp_len), "an IPv4 packet")?;
    let mut p = Vec::with_capacity(usize::from(total));
    p.push(0x45); // version 4, header length 5 words
    p.push(0); // DSCP, ECN
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&FLAG_DF.to_be_bytes());
    p.push(TTL);
    p.push(PROTOCOL_UDP);
    p.extend_from_slice(&[0, 0]); // checksum, filled below
    p.extend_from_slice(&LOOPBACK);
    p.extend_from_slice(&LOOPBACK);
    let checksum = ipv4_checksum(&p);
    p[10..12].copy_from_slice(&checksum.to_be_bytes());

    let mut udp = Vec::with_capacity(usize::from(udp_len));
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&port.to_be_bytes());
    udp.extend_from_slice(&udp_len.to_be_bytes());
    udp.extend_from_slice(&[0, 0]); // checksum, filled below
    udp.extend_from_slice(payload);
    // Pseudo-header: source, destination, zero, protocol, UDP length (RFC 768).
    let mut pseudo = Vec::with_capacity(12);
    pseudo.extend_from_slice(&LOOPBACK);
    pseudo.extend_from_slice(&LOOPBACK);
    pseudo.extend_from_slice(&[0, PROTOCOL_UDP]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    let sum = ones_complement_sum(ones_complement_sum(0, &pseudo), &udp);
    let checksum = match fold(sum) {
        0 => 0xFFFF,
        c => c,
    };
    udp[6..8].copy_from_slice(&checksum.to_be_bytes());
    p.extend_from_slice(&udp);
    Ok(p)
}

/// Writes a pcap file of UDP datagrams (127.0.0.1:`port` both ways), one record per
/// `(time, payload)`.
pub fn write_udp_capture<'a>(
    mut out: impl Write,
    port: u16,
    datagrams: impl IntoIterator<Item = (Timestamp, &'a [u8])>,
) -> io::Result<()> {
    out.write_all(&global_header())?;
    for (i, (ts, payload)) in datagrams.into_iter().enumerate() {
        // The identification field only has to differ between neighbours; it wraps.
        let id = u16::try_from(i % 0x1_0000).unwrap_or(0);
        let packet = ipv4_udp(payload, port, id)?;
        let len = u32::try_from(packet.len()).unwrap_or(SNAPLEN);
        out.write_all(&record_header(ts, len))?;
        out.write_all(&packet)?;
    }
    out.flush()
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

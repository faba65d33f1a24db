//! `smsr trace export FILE --pcap OUT.pcap`: a trace as a pcap file Wireshark and pySim-trace
//! read, one GSMTAP (type SIM) frame per exchange ([`crate::trace::gsmtap`]), and each BIP
//! channel's bytes (SCP81: TLS) as a TCP connection ([`crate::trace::pcap::TcpConnection`]).
//!
//! Every packet is placed after the record of the exchange it comes from, in trace order: the
//! exchange's GSMTAP frame, then the TCP segments of the channel bytes it carried, then (with
//! `--decrypted`) the plain APDUs it completed.

use super::{print_json, CliError};
use crate::cli::GlobalArgs;
use crate::trace::gsmtap::{gsmtap_payload, indexed_frames, Frame, GSMTAP_UDP_PORT};
use crate::trace::layers::{ChannelPiece, InnerApdu, Keys};
use crate::trace::pcap::{self, Endpoint, Packet, TcpConnection, TcpSegment};
use crate::trace::{read_trace, Record};
use clap::Args;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `smsr trace export --help`.
pub const LONG_ABOUT: &str = "Write a trace as a pcap file for Wireshark: one GSMTAP frame of \
type SIM per exchange (a UDP datagram to 127.0.0.1:4729, timestamped with the exchange's `ts`), \
the command and its response in one frame as SIMtrace sends them, which Wireshark's GSM SIM \
dissector (`gsm_sim`) decodes: instruction, P1 P2 P3, data, status word.

A command recorded as REDACTED (keys) is written as `FF FF 00 00` with its real response. Each \
BIP channel of the trace (SCP81: OPEN CHANNEL to CLOSE CHANNEL) is also written as one TCP \
connection, 10.0.0.2:49152+n (the card) to 10.0.0.1:443 (the SM-SR): handshake, one segment \
per SEND DATA or RECEIVE DATA after the exchange that carried it, FIN both ways; Wireshark reads \
the TLS in it, and opens it with the run's key log (`-o tls.keylog_file:KEYS`). With \
--decrypted, the plain APDUs of the trace's secure channel sessions (keys as for `smsr trace \
decrypt`) follow the exchange that carried each, as frames of their own. The file holds what \
the trace holds: keep it as private.

Examples:
  smsr --trace run.jsonl info && smsr trace export run.jsonl --pcap run.pcap
  tshark -r run.pcap -Y gsm_sim                           one line per exchange
  tshark -r run.pcap -Y gsm_sim -T fields -e frame.number -e gsm_sim.apdu.ins -e gsm_sim.apdu.sw
  tshark -r run.pcap -o tls.keylog_file:run.keys -Y http  SCP81: the HTTP inside the TLS
  wireshark run.pcap                                       (display filter: gsm_sim)
  pySim-trace.py gsmtap-pyshark-pcap -f run.pcap
Live instead of a file: `smsr --gsmtap 127.0.0.1 ...` and capture the loopback interface.";

/// `smsr trace export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace (JSON Lines; lines with only "c_apdu" and "r_apdu" are accepted).
    pub file: PathBuf,
    /// The pcap file to write (refused when it exists, unless --force).
    #[arg(long, value_name = "OUT.pcap")]
    pub pcap: PathBuf,
    /// Replace OUT.pcap when it exists.
    #[arg(long)]
    pub force: bool,
    /// Also write the plain APDUs inside the trace's secure channels (SCP03 sessions, the ES5
    /// scripts of SCP80 packets and SCP81 sessions), each after the exchange that carried it;
    /// keys from the key log (global --keylog FILE) and --eis.
    #[arg(long)]
    pub decrypted: bool,
    /// An EIS whose ISD-R SCP80, SCP03 and SCP81 (PSK) keys open the trace (with --decrypted).
    #[arg(long, value_name = "EIS.json", requires = "decrypted")]
    pub eis: Option<PathBuf>,
}

/// What was written (`--json`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Exported {
    pcap: String,
    /// Every packet in the file.
    frames: usize,
    exchanges: usize,
    redacted: usize,
    decrypted: usize,
    /// The TCP segments of the BIP channels.
    tcp_frames: usize,
    /// The BIP channels written as TCP connections (those that carried bytes).
    channels: usize,
}

/// The card's end of each BIP channel's TCP connection (the TLS client).
const CARD_ADDR: [u8; 4] = [10, 0, 0, 2];
/// The SM-SR's end: its HTTPS administration server, on the port Wireshark reads as TLS.
const SERVER: Endpoint = Endpoint {
    addr: [10, 0, 0, 1],
    port: 443,
};
/// The first port of the dynamic range (RFC 6335 §6): channel n of the trace gets 49152 + n.
const FIRST_CLIENT_PORT: u16 = 49_152;

/// Where a packet goes among those after one record: the GSMTAP frame of the exchange, then
/// the TCP segments of the channel bytes it carried, then the plain APDUs it completed.
const OUTER: u8 = 0;
const TCP: u8 = 1;
const INNER: u8 = 2;

/// One packet of the capture, with the time of the exchange it comes from.
#[derive(Debug)]
enum Item {
    /// A GSMTAP frame (its payload).
    Gsmtap {
        ts: Option<String>,
        payload: Vec<u8>,
    },
    Tcp {
        ts: Option<String>,
        segment: TcpSegment,
        payload: Vec<u8>,
    },
}

impl Item {
    fn sim(frame: &Frame) -> Self {
        Self::Gsmtap {
            ts: frame.ts.clone(),
            payload: gsmtap_payload(frame),
        }
    }

    fn ts(&self) -> Option<&str> {
        match self {
            Self::Gsmtap { ts, .. } | Self::Tcp { ts, .. } => ts.as_deref(),
        }
    }

    fn packet(&self) -> Packet<'_> {
        match self {
            Self::Gsmtap { payload, .. } => Packet::Udp {
                port: GSMTAP_UDP_PORT,
                payload,
            },
            Self::Tcp {
                segment, payload, ..
            } => Packet::Tcp {
                segment: *segment,
                payload,
            },
        }
    }
}

/// A packet with its place: the index in the records of the exchange it follows, and its
/// rank among that exchange's packets ([`OUTER`], [`TCP`], [`INNER`]).
type Placed = (usize, u8, Item);

/// The index in `records` of each exchange (the decoder counts exchanges, not records).
fn exchange_records(records: &[Record]) -> Vec<usize> {
    records
        .iter()
        .enumerate()
        .filter(|(_, r)| matches!(r, Record::Exchange(_)))
        .map(|(i, _)| i)
        .collect()
}

/// The time of the record at `index`, when it is an exchange with one.
fn ts_of(records: &[Record], index: usize) -> Option<String> {
    match records.get(index) {
        Some(Record::Exchange(e)) => e.ts.clone(),
        _ => None,
    }
}

/// The plain inner APDUs of the trace's secure channels ([`crate::trace::layers`]), each after
/// the exchange that completed it.
fn inner_frames(records: &[Record], at: &[usize], inner: Vec<InnerApdu>) -> Vec<Placed> {
    inner
        .into_iter()
        .filter_map(|x| {
            let index = *at.get(x.exchange)?;
            let frame = Frame {
                ts: ts_of(records, index),
                c_apdu: x.c_apdu,
                r_apdu: x.r_apdu,
            };
            Some((index, INNER, Item::sim(&frame)))
        })
        .collect()
}

/// Each BIP channel that carried bytes as one TCP connection from the card to the SM-SR:
/// SYN, SYN-ACK, ACK after the exchange of its first piece, a segment per piece after the
/// exchange that carried it, the FINs after the last. Also the number of connections.
fn channel_segments(
    records: &[Record],
    at: &[usize],
    channels: &[Vec<ChannelPiece>],
    last_open: bool,
) -> (Vec<Placed>, usize) {
    let mut out = Vec::new();
    let mut count = 0usize;
    for (c, pieces) in channels.iter().enumerate() {
        let Some(first) = pieces.first() else {
            continue;
        };
        // 16384 ports in the dynamic range; past that they repeat (after the earlier
        // connection's FINs).
        let n = u16::try_from(count % 16_384).unwrap_or(0);
        count += 1;
        let card = Endpoint {
            addr: CARD_ADDR,
            port: FIRST_CLIENT_PORT + n,
        };
        let mut connection = TcpConnection::new(card, SERVER);
        // A piece always names an exchange of the trace; were one not to, it stays where the
        // previous one was, so the stream keeps its order and its bytes.
        let mut index = at.get(first.exchange).copied().unwrap_or(records.len());
        let push = |out: &mut Vec<Placed>, index: usize, segment, payload: &[u8]| {
            let item = Item::Tcp {
                ts: ts_of(records, index),
                segment,
                payload: payload.to_vec(),
            };
            out.push((index, TCP, item));
        };
        for segment in connection.open() {
            push(&mut out, index, segment, &[]);
        }
        for piece in pieces {
            index = at.get(piece.exchange).copied().unwrap_or(index);
            for (segment, chunk) in connection.data(piece.to_server, &piece.data) {
                push(&mut out, index, segment, chunk);
            }
        }
        // A channel the trace ends inside keeps its connection open: no FIN was seen.
        if !(last_open && c + 1 == channels.len()) {
            for segment in connection.close() {
                push(&mut out, index, segment, &[]);
            }
        }
    }
    (out, count)
}

/// The packets in trace order: by the record each follows, then by rank; packets of the same
/// place keep the order they came in.
fn in_trace_order(mut placed: Vec<Placed>) -> Vec<Item> {
    placed.sort_by_key(|(index, rank, _)| (*index, *rank));
    placed.into_iter().map(|(_, _, item)| item).collect()
}

fn write_file(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    let mut file = options.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            CliError::Input(format!(
                "{} exists; give --force to replace it, or another path to --pcap",
                path.display()
            ))
        } else {
            CliError::Input(format!(
                "cannot create {}: {e}; give a writable path to --pcap",
                path.display()
            ))
        }
    })?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| CliError::Input(format!("cannot write {}: {e}", path.display())))
}

/// Runs `smsr trace export`.
pub fn run(g: &GlobalArgs, args: &ExportArgs) -> Result<(), CliError> {
    let records = read_trace(&args.file)?;
    let outer = indexed_frames(&records);
    let exchanges = outer.len();
    let redacted = records
        .iter()
        .filter(|r| matches!(r, Record::Exchange(x) if x.c_apdu.bytes().is_none()))
        .count();
    // The channels' bytes need no key; the inner APDUs do.
    let keys = if args.decrypted {
        super::decrypt::trace_keys(g, args.eis.as_deref(), None)?
    } else {
        Keys::default()
    };
    let decoded = crate::trace::layers::decode(&records, &keys);
    let at = exchange_records(&records);
    let inner = if args.decrypted {
        inner_frames(&records, &at, decoded.inner)
    } else {
        Vec::new()
    };
    let decrypted = inner.len();
    let (tcp, channels) =
        channel_segments(&records, &at, &decoded.channels, decoded.last_channel_open);
    let tcp_frames = tcp.len();
    let mut placed: Vec<Placed> = outer
        .iter()
        .map(|(index, frame)| (*index, OUTER, Item::sim(frame)))
        .collect();
    placed.extend(tcp);
    placed.extend(inner);
    let items = in_trace_order(placed);
    let times = pcap::capture_times(items.iter().map(Item::ts));
    // Made in memory first: a frame that cannot be written leaves no half file behind.
    let mut bytes = Vec::new();
    pcap::write_capture(
        &mut bytes,
        times.into_iter().zip(items.iter().map(Item::packet)),
    )
    .map_err(|e| {
        CliError::Input(format!(
            "cannot export {}: {e}; the trace holds an exchange larger than a UDP datagram",
            args.file.display()
        ))
    })?;
    write_file(&args.pcap, &bytes, args.force)?;
    let summary = Exported {
        pcap: args.pcap.display().to_string(),
        frames: items.len(),
        exchanges,
        redacted,
        decrypted,
        tcp_frames,
        channels,
    };
    if g.json {
        print_json(&summary);
    } else {
        println!(
            "{}: {} frames ({} exchanges, {} redacted, {} decrypted, {} TCP in {} BIP \
             channels); read it with `tshark -r {} -Y gsm_sim` or Wireshark",
            summary.pcap,
            summary.frames,
            summary.exchanges,
            summary.redacted,
            summary.decrypted,
            summary.tcp_frames,
            summary.channels,
            summary.pcap
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(tag: u8) -> Frame {
        Frame {
            ts: None,
            c_apdu: vec![0x80, tag, 0, 0],
            r_apdu: vec![0x90, 0x00],
        }
    }

    /// The instruction of a GSMTAP frame (after the 16-byte header and CLA), or the
    /// sequence number of a TCP segment.
    fn tag(item: &Item) -> u32 {
        match item {
            Item::Gsmtap { payload, .. } => u32::from(payload[17]),
            Item::Tcp { segment, .. } => segment.seq,
        }
    }

    fn tcp(seq: u32) -> Item {
        let end = Endpoint {
            addr: [0; 4],
            port: 0,
        };
        Item::Tcp {
            ts: None,
            segment: TcpSegment {
                src: end,
                dst: end,
                seq,
                ack: 0,
                flags: 0,
            },
            payload: Vec::new(),
        }
    }

    #[test]
    fn packets_follow_their_exchange_frame_then_tcp_then_inner() {
        let sim = |i: usize, rank, tag| (i, rank, Item::sim(&f(tag)));
        let placed = vec![
            sim(1, OUTER, 1),
            sim(3, OUTER, 3),
            sim(4, OUTER, 4),
            (3, TCP, tcp(0x300)),
            sim(3, INNER, 0x31),
            sim(1, INNER, 0x11),
            (1, TCP, tcp(0x100)),
            (3, TCP, tcp(0x301)),
            sim(3, INNER, 0x32),
            sim(9, INNER, 0x91),
            (0, TCP, tcp(0x000)),
        ];
        let tags: Vec<u32> = in_trace_order(placed).iter().map(tag).collect();
        assert_eq!(
            tags,
            [0x000, 1, 0x100, 0x11, 3, 0x300, 0x301, 0x31, 0x32, 4, 0x91]
        );
    }

    fn exchange(second: u32) -> Record {
        Record::Exchange(crate::trace::Exchange {
            seq: None,
            ts: Some(format!("2026-01-01T00:00:{second:02}Z")),
            elapsed_us: None,
            reader: None,
            c_apdu: crate::trace::Recorded::Bytes(vec![0x80, 0x12, 0, 0, 0x10]),
            r_apdu: vec![0x90, 0x00],
        })
    }

    fn piece(exchange: usize, to_server: bool, len: usize) -> ChannelPiece {
        ChannelPiece {
            exchange,
            to_server,
            data: vec![0x17; len],
        }
    }

    /// Record index, the card's port, source port, seq, ack, flags, payload length, mm:ss.
    type Row<'a> = (usize, u16, u16, u32, u32, u8, usize, &'a str);

    #[test]
    fn each_channel_is_a_tcp_connection_after_its_exchanges() {
        let connect = Record::Event(crate::trace::Event {
            seq: None,
            ts: None,
            kind: crate::trace::EventKind::Connect,
            atr: None,
            reader: None,
        });
        // Records: an event, then exchanges 0..=3 at records 1..=4.
        let records = vec![connect, exchange(0), exchange(1), exchange(2), exchange(3)];
        let at = exchange_records(&records);
        assert_eq!(at, [1, 2, 3, 4]);
        let channels = vec![
            vec![piece(0, true, 3), piece(2, false, 2), piece(2, true, 4)],
            Vec::new(),
            vec![piece(3, true, 1)],
        ];
        let (placed, count) = channel_segments(&records, &at, &channels, false);
        assert_eq!(count, 2);
        // The trace ending inside the last channel: its three closing segments are not made up.
        let (open, _) = channel_segments(&records, &at, &channels, true);
        assert_eq!(open.len() + 3, placed.len());
        let (ci, si) = (pcap::CLIENT_ISN, pcap::SERVER_ISN);
        let rows: Vec<Row> = placed
            .iter()
            .map(|(index, rank, item)| {
                assert_eq!(*rank, TCP);
                let Item::Tcp {
                    ts,
                    segment: s,
                    payload,
                } = item
                else {
                    panic!("{item:?}")
                };
                let src = if s.src.addr == CARD_ADDR {
                    assert_eq!(s.dst, SERVER);
                    s.src.port
                } else {
                    assert_eq!(s.src, SERVER);
                    assert_eq!(s.dst.addr, CARD_ADDR);
                    s.dst.port
                };
                (
                    *index,
                    src,
                    s.src.port,
                    s.seq,
                    s.ack,
                    s.flags,
                    payload.len(),
                    &ts.as_deref().unwrap()[14..19],
                )
            })
            .collect();
        let (syn, ack, psh, fin) = (
            pcap::TCP_SYN,
            pcap::TCP_ACK,
            pcap::TCP_PSH | pcap::TCP_ACK,
            pcap::TCP_FIN | pcap::TCP_ACK,
        );
        let c = 49_152;
        assert_eq!(
            rows,
            [
                (1, c, c, ci, 0, syn, 0, "00:00"),
                (1, c, 443, si, ci + 1, syn | ack, 0, "00:00"),
                (1, c, c, ci + 1, si + 1, ack, 0, "00:00"),
                (1, c, c, ci + 1, si + 1, psh, 3, "00:00"),
                (3, c, 443, si + 1, ci + 4, psh, 2, "00:02"),
                (3, c, c, ci + 4, si + 3, psh, 4, "00:02"),
                (3, c, c, ci + 8, si + 3, fin, 0, "00:02"),
                (3, c, 443, si + 3, ci + 9, fin, 0, "00:02"),
                (3, c, c, ci + 9, si + 4, ack, 0, "00:02"),
                // The empty channel has no connection; the next one has the next port.
                (4, c + 1, c + 1, ci, 0, syn, 0, "00:03"),
                (4, c + 1, 443, si, ci + 1, syn | ack, 0, "00:03"),
                (4, c + 1, c + 1, ci + 1, si + 1, ack, 0, "00:03"),
                (4, c + 1, c + 1, ci + 1, si + 1, psh, 1, "00:03"),
                (4, c + 1, c + 1, ci + 2, si + 1, fin, 0, "00:03"),
                (4, c + 1, 443, si + 1, ci + 3, fin, 0, "00:03"),
                (4, c + 1, c + 1, ci + 3, si + 2, ack, 0, "00:03"),
            ]
        );
    }

    #[test]
    fn an_existing_file_is_kept_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.pcap");
        std::fs::write(&path, b"old").unwrap();
        let err = write_file(&path, b"new", false).unwrap_err();
        assert!(err.to_string().contains("--force"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        write_file(&path, b"new", true).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
    }
}

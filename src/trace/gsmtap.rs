//! APDU exchanges as GSMTAP frames of type SIM, the form Wireshark's `gsm_sim` dissector and
//! pySim-trace read, and a pcap file of them (`smsr trace export --pcap`, `--gsmtap`).
//!
//! The header: libosmocore `include/osmocom/core/gsmtap.h` (`struct gsmtap_hdr`, 16 bytes):
//! version 2, header length 4 (32-bit words), type `GSMTAP_TYPE_SIM` (4), sub-type (byte 12)
//! `GSMTAP_SIM_APDU` (0), everything else zero — as SIMtrace2's `osmo_st2_gsmtap_send_apdu`
//! sends it. UDP port 4729 (IANA `gsmtap`). Wireshark hands type 4 to `gsm_sim`
//! (`packet-gsm_sim.c`, `proto_reg_handoff_gsm_sim`: `dissector_add_uint("gsmtap.type",
//! GSMTAP_TYPE_SIM, ...)`), which reads the payload in "SIMtrace" mode; pySim-trace reads it
//! with `pySim/apdu_source/gsmtap.py` (UDP) and `pyshark_gsmtap.py` (pcap).
//!
//! The payload: one frame per command/response pair, `CLA INS P1 P2 P3 [data] [response data]
//! SW1 SW2` — the command as a T=0 TPDU, then the whole response:
//! - Wireshark (`dissect_cmd_apdu_tvb` with `isSIMtrace`) takes P3 at offset 4, the command
//!   data as the next P3 bytes, the status word as the last two bytes and what lies between as
//!   response data (Wireshark 4.0). Its master branch reads `P3 = 00` followed by two or more
//!   bytes as an extended length.
//! - pySim (`ApduCommand.from_bytes` in `pySim/apdu/__init__.py`) splits by the instruction's
//!   ISO case: cases 1 and 2 after byte 5, cases 3 and 4 after `5 + P3`. A trailing Le of a
//!   case 4 command would be read as the first byte of the response. (Its table files GET DATA
//!   `CA` under case 4, so it shows that response as command data, as in SIMtrace captures.)
//!
//! So the recorded command is rewritten into the form a T=0 reader puts on the wire for the
//! exchange that returned the response (ISO/IEC 7816-3 §12.2): a case 4 command loses its Le
//! (pySim); a command without data (case 1 or 2) carries as P3 the number of response data
//! bytes the card returned when that is 1 to 255 (what a T=0 reader sends after `6Cxx`, and
//! what keeps newer Wireshark from reading the response as an extended length), else its Le,
//! else `00`. Extended-length commands keep their extended Lc (only newer Wireshark reads
//! them). [`Frame`] keeps the command as recorded; only [`gsmtap_payload`] rewrites it.
//!
//! A command recorded as `"REDACTED"` (keys, [`crate::sensitive`]) becomes
//! [`REDACTED_COMMAND`], `FF FF 00 00`: the trace keeps no byte of it, and CLA `FF` is invalid
//! in ISO/IEC 7816-4 (reserved for PPS), so the frame cannot pass for a real command. Wireshark
//! shows it as instruction `ff` with the card's real response and status word; pySim-trace stops
//! at it ("Unknown CLA=FF INS=FF").

use super::pcap::{self, Timestamp};
use super::{Record, Recorded};
use smsr_proto::CommandApdu;
use std::io::{self, Write};

/// The UDP port of GSMTAP (IANA `gsmtap`).
pub const GSMTAP_UDP_PORT: u16 = 4729;
/// `GSMTAP_VERSION`.
pub const GSMTAP_VERSION: u8 = 2;
/// The header's length in 32-bit words (16 bytes).
pub const GSMTAP_HDR_LEN_WORDS: u8 = 4;
/// `GSMTAP_TYPE_SIM`.
pub const GSMTAP_TYPE_SIM: u8 = 0x04;
/// `GSMTAP_SIM_APDU`: a whole command and response in one frame.
pub const GSMTAP_SIM_APDU: u8 = 0x00;
/// The command written for one recorded as `"REDACTED"` (see the module documentation).
pub const REDACTED_COMMAND: [u8; 4] = [0xFF, 0xFF, 0x00, 0x00];

/// One command/response pair, as the trace holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// When the command was sent (RFC 3339), if known.
    pub ts: Option<String>,
    /// The command APDU as sent ([`REDACTED_COMMAND`] for a redacted one).
    pub c_apdu: Vec<u8>,
    /// Response data ‖ SW1 SW2.
    pub r_apdu: Vec<u8>,
}

impl Frame {
    /// The frame of one exchange.
    pub fn new(ts: Option<String>, c_apdu: &Recorded, r_apdu: &[u8]) -> Self {
        Self {
            ts,
            c_apdu: c_apdu
                .bytes()
                .map_or_else(|| REDACTED_COMMAND.to_vec(), <[u8]>::to_vec),
            r_apdu: r_apdu.to_vec(),
        }
    }
}

/// The frames of a trace with the index in `records` of the exchange each comes from.
pub fn indexed_frames(records: &[Record]) -> Vec<(usize, Frame)> {
    records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            Record::Exchange(x) => Some((i, Frame::new(x.ts.clone(), &x.c_apdu, &x.r_apdu))),
            Record::Event(_) => None,
        })
        .collect()
}

/// One frame per exchange of a trace, in order (events have none).
pub fn frames(records: &[Record]) -> Vec<Frame> {
    indexed_frames(records)
        .into_iter()
        .map(|(_, f)| f)
        .collect()
}

/// The 16-byte GSMTAP header of a SIM APDU frame.
pub fn gsmtap_header() -> [u8; 16] {
    let mut h = [0u8; 16];
    h[0] = GSMTAP_VERSION;
    h[1] = GSMTAP_HDR_LEN_WORDS;
    h[2] = GSMTAP_TYPE_SIM;
    h[12] = GSMTAP_SIM_APDU;
    h
}

/// The command as a T=0 reader sends it for the exchange that brought `response_data_len`
/// bytes of response data (see the module documentation).
pub fn simtrace_command(c_apdu: &[u8], response_data_len: usize) -> Vec<u8> {
    let Ok(command) = CommandApdu::parse(c_apdu) else {
        // Not an ISO 7816-4 command (another tool's trace): as recorded, with a P3 when only
        // the header is there.
        let mut out = c_apdu.to_vec();
        if out.len() == 4 {
            out.push(0);
        }
        return out;
    };
    let header = &c_apdu[..4];
    let extended = c_apdu.len() >= 7 && c_apdu[4] == 0;
    let mut out = header.to_vec();
    if command.data.is_empty() {
        // Cases 1 and 2 (2E too: T=0 has no extended form, and the rule below gives a short
        // P3 the card's answer fits).
        let p3 = match u8::try_from(response_data_len) {
            Ok(n) if n > 0 => n,
            _ => match command.le {
                // 256 (short) and 65536 (extended) are both written 00.
                Some(le) => u8::try_from(le % 256).unwrap_or(0),
                None => 0,
            },
        };
        out.push(p3);
    } else if extended {
        // 00 Lc1 Lc2 data, without the extended Le.
        out.push(0);
        out.extend_from_slice(&c_apdu[5..7]);
        out.extend_from_slice(&command.data);
    } else {
        // Lc data, without the short Le. Short form: the data fits one byte.
        out.push(u8::try_from(command.data.len()).unwrap_or(0));
        out.extend_from_slice(&command.data);
    }
    out
}

/// The GSMTAP frame: header, the command as a T=0 TPDU, the response.
pub fn gsmtap_payload(frame: &Frame) -> Vec<u8> {
    let data_len = frame.r_apdu.len().saturating_sub(2);
    let command = simtrace_command(&frame.c_apdu, data_len);
    let mut out = Vec::with_capacity(16 + command.len() + frame.r_apdu.len());
    out.extend_from_slice(&gsmtap_header());
    out.extend_from_slice(&command);
    out.extend_from_slice(&frame.r_apdu);
    out
}

/// The capture time of each frame: its `ts` when it has one a pcap record can hold (RFC 3339,
/// 1970 to 2106), else one microsecond after the previous frame's (the first at the epoch), so
/// the order of the trace is kept.
pub fn timestamps(frames: &[Frame]) -> Vec<Timestamp> {
    pcap::capture_times(frames.iter().map(|f| f.ts.as_deref()))
}

/// Writes `frames` as a classic pcap file (raw IPv4, microsecond timestamps): one UDP datagram
/// 127.0.0.1:4729 → 127.0.0.1:4729 per frame, carrying [`gsmtap_payload`]. Fails with
/// `InvalidInput` on a frame larger than a UDP datagram.
pub fn write_pcap(out: impl Write, frames: &[Frame]) -> io::Result<()> {
    let payloads: Vec<Vec<u8>> = frames.iter().map(gsmtap_payload).collect();
    let times = timestamps(frames);
    pcap::write_udp_capture(
        out,
        GSMTAP_UDP_PORT,
        times.into_iter().zip(payloads.iter().map(Vec::as_slice)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{parse_trace, Event, EventKind, Exchange};
    use std::path::Path;

    fn h(text: &str) -> Vec<u8> {
        hex::decode(text.replace(' ', "")).unwrap()
    }

    fn frame(c: &str, r: &str) -> Frame {
        Frame {
            ts: None,
            c_apdu: h(c),
            r_apdu: h(r),
        }
    }

    #[test]
    fn header_is_gsmtap_v2_sim_apdu() {
        assert_eq!(
            gsmtap_header(),
            [2, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

    #[test]
    fn payload_is_header_tpdu_then_response() {
        // Case 3 (SELECT ISD-R without Le), answered 61xx under T=0.
        let p = gsmtap_payload(&frame(
            "00A4040010 A0000005591010FFFFFFFF8900000100",
            "6120",
        ));
        assert_eq!(&p[..16], &gsmtap_header());
        assert_eq!(
            &p[16..],
            h("00A4040010 A0000005591010FFFFFFFF8900000100 6120")
        );
        // Case 4: the Le goes, so pySim splits the command after 5 + Lc.
        let p = gsmtap_payload(&frame(
            "00A4040010 A0000005591010FFFFFFFF8900000100 00",
            "6F03 840100 9000",
        ));
        assert_eq!(
            &p[16..],
            h("00A4040010 A0000005591010FFFFFFFF8900000100 6F03840100 9000")
        );
        // Case 2 with Le 00: P3 is the length the card answered (the T=0 re-send after 6Cxx).
        let p = gsmtap_payload(&frame("80CA005A00", "5A02 8900 9000"));
        assert_eq!(&p[16..], h("80CA005A04 5A028900 9000"));
        // ...and the Le as sent when no data came back.
        let p = gsmtap_payload(&frame("80CA005A00", "6A88"));
        assert_eq!(&p[16..], h("80CA005A00 6A88"));
        let p = gsmtap_payload(&frame("00C0000012", "6A82"));
        assert_eq!(&p[16..], h("00C0000012 6A82"));
        // Case 1 gets its P3 of 00.
        let p = gsmtap_payload(&frame("0070800100", "9000"));
        assert_eq!(&p[16..], h("0070800100 9000"));
        let p = gsmtap_payload(&frame("80F20000", "9000"));
        assert_eq!(&p[16..], h("80F2000000 9000"));
        // 256 bytes back: P3 00.
        let mut r = vec![0xAB; 256];
        r.extend_from_slice(&[0x90, 0x00]);
        let p = gsmtap_payload(&Frame {
            ts: None,
            c_apdu: h("00B0000000"),
            r_apdu: r.clone(),
        });
        assert_eq!(&p[16..21], h("00B0000000"));
        assert_eq!(&p[21..], r);
    }

    #[test]
    fn extended_commands_keep_their_lc_and_lose_their_le() {
        let mut c = h("80E29100 000100");
        c.extend_from_slice(&[0x11; 256]);
        let mut expected = c.clone();
        c.extend_from_slice(&[0x00, 0x00]);
        expected.extend_from_slice(&h("9000"));
        let p = gsmtap_payload(&Frame {
            ts: None,
            c_apdu: c,
            r_apdu: h("9000"),
        });
        assert_eq!(&p[16..], expected);
    }

    #[test]
    fn foreign_commands_are_kept() {
        // Lc says 5, 2 bytes follow: not an APDU, kept as is.
        let p = gsmtap_payload(&frame("00A4040005 3F00", "9000"));
        assert_eq!(&p[16..], h("00A40400053F00 9000"));
    }

    #[test]
    fn redacted_commands_get_the_placeholder() {
        let text = "{\"c_apdu\":\"REDACTED\",\"r_apdu\":\"30AABBCC9000\"}\n";
        let records = parse_trace(text.as_bytes(), Path::new("t")).unwrap();
        let f = frames(&records);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].c_apdu, REDACTED_COMMAND);
        assert_eq!(&gsmtap_payload(&f[0])[16..], h("FFFF000004 30AABBCC 9000"));
    }

    #[test]
    fn one_frame_per_exchange_with_its_index() {
        let records = vec![
            Record::Event(Event {
                seq: Some(0),
                ts: None,
                kind: EventKind::Connect,
                atr: Some(vec![0x3B, 0x00]),
                reader: None,
            }),
            Record::Exchange(Exchange {
                seq: Some(1),
                ts: Some("2026-01-01T00:00:00.000002Z".into()),
                elapsed_us: None,
                reader: None,
                c_apdu: Recorded::Bytes(h("80CA005A00")),
                r_apdu: h("6A88"),
            }),
        ];
        let f = indexed_frames(&records);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, 1);
        assert_eq!(f[0].1.ts.as_deref(), Some("2026-01-01T00:00:00.000002Z"));
    }

    #[test]
    fn timestamps_come_from_ts_or_follow_the_previous() {
        let at = |ts: Option<&str>| Frame {
            ts: ts.map(str::to_owned),
            c_apdu: h("80CA005A00"),
            r_apdu: h("9000"),
        };
        let t = timestamps(&[
            at(None),
            at(Some("2026-01-01T00:00:00.000002Z")),
            at(None),
            at(Some("not a time")),
            at(Some("2026-01-01T00:00:01Z")),
        ]);
        let ts = |secs, micros| Timestamp { secs, micros };
        assert_eq!(
            t,
            [
                ts(0, 0),
                ts(1_767_225_600, 2),
                ts(1_767_225_600, 3),
                ts(1_767_225_600, 4),
                ts(1_767_225_601, 0)
            ]
        );
    }

    #[test]
    fn pcap_file_holds_one_udp_datagram_per_frame() {
        let frames = [
            Frame {
                ts: Some("2026-01-01T00:00:00.000002Z".into()),
                c_apdu: h("80CA005A00"),
                r_apdu: h("5A01 89 9000"),
            },
            frame("80F20000", "9000"),
        ];
        let mut out = Vec::new();
        write_pcap(&mut out, &frames).unwrap();
        assert_eq!(&out[..24], &pcap::global_header());
        let mut at = 24;
        for (i, f) in frames.iter().enumerate() {
            let payload = gsmtap_payload(f);
            let len = 20 + 8 + payload.len();
            let record = &out[at..at + 16];
            if i == 0 {
                assert_eq!(&record[..8], &[0x00, 0xB9, 0x55, 0x69, 2, 0, 0, 0]);
            } else {
                assert_eq!(&record[..8], &[0x00, 0xB9, 0x55, 0x69, 3, 0, 0, 0]);
            }
            let l = u32::try_from(len).unwrap().to_le_bytes();
            assert_eq!(&record[8..12], &l);
            assert_eq!(&record[12..16], &l);
            let packet = &out[at + 16..at + 16 + len];
            assert_eq!(packet[9], 17);
            assert_eq!(&packet[20..24], &[0x12, 0x79, 0x12, 0x79]);
            assert_eq!(&packet[28..], payload.as_slice());
            at += 16 + len;
        }
        assert_eq!(at, out.len());
    }

    #[test]
    fn frames_too_big_for_udp_are_refused() {
        let mut r = vec![0; pcap::MAX_UDP_PAYLOAD];
        r.extend_from_slice(&[0x90, 0x00]);
        let f = Frame {
            ts: None,
            c_apdu: h("00B0000000"),
            r_apdu: r,
        };
        let err = write_pcap(Vec::new(), &[f]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}

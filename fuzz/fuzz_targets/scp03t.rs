//! SCP03t (SGP.02 §2.5.2–§2.5.3), the protected profile download, at both ends.
//!
//! The first byte selects what the input is:
//! - `0`: command TLVs for the ISD-P's receiver (the card side) as they come out of ES8
//!   scripts, plus the package framing check on the same bytes;
//! - `1`: a profile package, protected by the SM-DP side with fixed keys and challenge and cut
//!   into segments of a size taken from the next byte, then received by the card side, whose
//!   answers the SM-DP side checks: the decryption, reassembly and package parsing of a real
//!   session run on arbitrary plaintext;
//! - `2`: answer TLVs from a card, checked by the SM-DP side of a session with fixed keys.
//!
//! Nothing may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::ota::executor::RawOutcome;
use smsr_proto::saip::{EuiccResponse, Package, PeStatus, PeStatusCode};
use smsr_proto::scp03::{Scp03Card, ScpOptions, StaticKeys};
use smsr_proto::scp03t::card::package_complete;
use smsr_proto::scp03t::{Scp03tCard, Scp03tHost};
use smsr_proto::tlv::Tlv;

const ISDP_AID: [u8; 16] = [
    0xA0, 0x00, 0x00, 0x05, 0x59, 0x10, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0x89, 0x00, 0x00, 0x10, 0x00,
];
const KVN: u8 = 0x30;
const HOST_CHALLENGE: [u8; 8] = [0xFD, 0xF3, 0x82, 0x59, 0xA1, 0xE0, 0xDE, 0x44];

fn keys() -> StaticKeys {
    let enc: Vec<u8> = (0x00..0x10).collect();
    let mac: Vec<u8> = (0x10..0x20).collect();
    let dek: Vec<u8> = (0x20..0x30).collect();
    StaticKeys::new(KVN, &enc, &mac, &dek).expect("test keys")
}

fn isd_p() -> Scp03Card {
    let options = ScpOptions::from_i(0x70).expect("i = 70");
    let mut sd = Scp03Card::new(&ISDP_AID, options, [0; 10]).expect("ISD-P");
    sd.add_keyset(keys(), 0);
    sd
}

fn host() -> Scp03tHost {
    Scp03tHost::from_values(keys(), 0x00, &ISDP_AID, 0, HOST_CHALLENGE).expect("host")
}

/// An installer as the emulator's: decode the package, `ok` for each PE, aborted if it does
/// not decode.
fn installer(pkg: &[u8]) -> EuiccResponse {
    match Package::parse(pkg) {
        Ok(p) => EuiccResponse {
            pe_status: p
                .pes()
                .map(|pe| PeStatus {
                    identification: pe.identification(),
                    ..PeStatus::new(PeStatusCode::Ok)
                })
                .collect(),
            profile_installation_aborted: false,
            status_message: None,
        },
        Err(e) => EuiccResponse {
            pe_status: vec![PeStatus::new(PeStatusCode::InvalidRequestFormat)],
            profile_installation_aborted: true,
            status_message: Some(e.to_string()),
        },
    }
}

fn tlvs(mut d: &[u8]) -> Vec<Tlv> {
    let mut out = Vec::new();
    while let Ok((t, used)) = Tlv::parse_prefix(d) {
        out.push(t);
        d = &d[used..];
        if used == 0 || out.len() >= 64 {
            break;
        }
    }
    out
}

fn card_side(d: &[u8]) {
    let _ = package_complete(d);
    let mut sd = isd_p();
    let mut card = Scp03tCard::new();
    for t in tlvs(d) {
        let _ = card.process(&mut sd, &t, installer);
    }
}

fn session(d: &[u8]) {
    let Some((&size, package)) = d.split_first() else {
        return;
    };
    let size = (usize::from(size) * 4).clamp(1, 1007);
    let Ok(host) = host().with_segment_size(size) else {
        return;
    };
    let Ok(download) = host.protect(package) else {
        return;
    };
    let mut checker = download.checker;
    let mut sd = isd_p();
    let mut card = Scp03tCard::new();
    for c in &download.commands {
        let answer = match card.process(&mut sd, c, installer) {
            RawOutcome::Continue(t) => t,
            RawOutcome::Stop(t) => {
                let _ = checker.check(&t);
                break;
            }
            RawOutcome::Unsupported => panic!("the card does not take {c:?}"),
        };
        if checker.check(&answer).is_err() {
            break;
        }
    }
}

fn host_side(d: &[u8]) {
    let Ok(download) = host().protect(&[0xAA, 0x03, 0x80, 0x01, 0x00]) else {
        return;
    };
    let mut checker = download.checker;
    let answers = tlvs(d);
    let _ = checker.check_all(&answers);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => card_side(rest),
        1 => session(rest),
        _ => host_side(rest),
    }
});

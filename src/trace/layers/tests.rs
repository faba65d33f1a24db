#![allow(clippy::unwrap_used)]

use super::*;
use crate::keylog::Scp80Keys;
use crate::trace::{Exchange, Record, Recorded};
use smsr_proto::ota::sms::{command_packet_messages, sms_pp_download, Address};

fn h(s: &str) -> Vec<u8> {
    hexfmt::parse(s).unwrap()
}

/// pySim's `test_ota.py` AES-128 vector (sysmoISIM-SJA5, SPI 06 19, KIc/KID 22, TAR
/// B00011): the command packet, sent as one SMS-PP ENVELOPE, and the card's PoR.
fn pysim_trace(flip_packet: Option<usize>, flip_por: Option<usize>) -> Vec<Record> {
    let mut packet =
        h("00281506192222b00011e87cceebb2d93083011ce294f93fc4d8de80da1abae8c37ca3e72ec4432e5058");
    if let Some(i) = flip_packet {
        packet[i] ^= 1;
    }
    let mut por =
        h("027100002412b00011ebc6b497e2cad7aedf36ace0e3a29b38853f0fe9ccde81913be5702b73abce1f");
    if let Some(i) = flip_por {
        por[i] ^= 1;
    }
    por.extend([0x90, 0x00]);
    let messages =
        command_packet_messages(&packet, &Address::international("0"), [0; 7], 0).unwrap();
    let envelope = sms_pp_download(&messages[0], None).unwrap();
    vec![Record::Exchange(Exchange {
        seq: Some(1),
        ts: None,
        elapsed_us: None,
        reader: None,
        c_apdu: Recorded::Bytes(envelope.to_bytes().unwrap()),
        r_apdu: por,
    })]
}

fn keys() -> Keys {
    let mut k = Keys::default();
    k.material.scp80.push(Scp80Keys {
        tar: Some([0xB0, 0x00, 0x11]),
        keyset: KeySet::aes(
            2,
            &h("200102030405060708090a0b0c0d0e0f"),
            &h("201102030405060708090a0b0c0d0e0f"),
        ),
    });
    k
}

fn layer<'a>(d: &'a Decoded, name: &str) -> &'a Layer {
    d.exchanges[0]
        .layers
        .iter()
        .find(|l| l.layer == name)
        .unwrap_or_else(|| panic!("no {name} layer: {:#?}", d.exchanges[0].layers))
}

#[test]
fn pysim_vector_opens_through_sms_scp80_and_por() {
    let d = decode(&pysim_trace(None, None), &keys());
    assert!(d.failures().is_empty(), "{:?}", d.failures());
    let scp80 = layer(&d, "scp80");
    assert!(
        scp80
            .text
            .contains("SPI 0619, KIc 22, KID 22, TAR B00011, counter 0000000000"),
        "{}",
        scp80.text
    );
    assert_eq!(scp80.plain.as_deref(), Some("00A40004023F00"));
    assert_eq!(scp80.checks[0].ok, Some(true));
    let por = layer(&d, "por");
    assert!(por.text.contains("status 00"), "{}", por.text);
    assert_eq!(por.plain.as_deref(), Some("016132"));
}

#[test]
fn pysim_vector_without_keys_shows_the_clear_header() {
    let d = decode(&pysim_trace(None, None), &Keys::default());
    assert!(d.failures().is_empty());
    let scp80 = layer(&d, "scp80");
    assert!(
        scp80.text.contains("TAR B00011")
            && scp80
                .text
                .contains("counter, padding count and checksum are ciphered"),
        "{}",
        scp80.text
    );
    assert_eq!(scp80.checks[0].ok, None);
}

#[test]
fn a_flipped_byte_fails_the_layer_that_covers_it() {
    // In the ciphered part of the packet (byte 20), and in the PoR's (byte 15).
    let d = decode(&pysim_trace(Some(20), None), &keys());
    assert_eq!(d.failures().len(), 1, "{:?}", d.failures());
    assert!(d.failures()[0].1.starts_with("scp80"));
    let d = decode(&pysim_trace(None, Some(15)), &keys());
    assert_eq!(d.failures().len(), 1, "{:?}", d.failures());
    assert!(d.failures()[0].1.starts_with("por"));
}

proptest::proptest! {
    /// Any exchanges, shaped like what the layers look at (ENVELOPE, FETCH, TERMINAL
    /// RESPONSE, INSTALL, STORE DATA, GET RESPONSE) or not: decoding never panics.
    #[test]
    fn decoding_any_exchanges_never_panics(
        xs in proptest::collection::vec(
            (0usize..7, proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
             proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)),
            1..12,
        )
    ) {
        let heads: [&[u8]; 7] = [
            &[0x80, 0xC2, 0, 0], &[0x80, 0x12, 0, 0], &[0x80, 0x14, 0, 0],
            &[0x80, 0xE6, 0x20, 0], &[0x80, 0xE2, 0x80, 0], &[0x00, 0xC0, 0, 0],
            &[0x84, 0xE2, 0, 0],
        ];
        let records: Vec<Record> = xs
            .into_iter()
            .enumerate()
            .map(|(i, (h, body, mut r))| {
                let mut c = heads[h].to_vec();
                c.push(u8::try_from(body.len().min(255)).unwrap());
                c.extend(body.iter().take(255));
                r.extend([0x90, 0x00]);
                Record::Exchange(Exchange {
                    seq: u64::try_from(i).ok(),
                    ts: None,
                    elapsed_us: None,
                    reader: None,
                    c_apdu: Recorded::Bytes(c),
                    r_apdu: r,
                })
            })
            .collect();
        let _ = decode(&records, &keys());
    }
}

proptest::proptest! {
    /// pySim's packet and PoR with any bytes changed: each layer fails or opens, never
    /// panics.
    #[test]
    fn a_damaged_packet_or_por_never_panics(
        flips in proptest::collection::vec((0usize..64, proptest::prelude::any::<u8>()), 0..6),
        cut in 0usize..50,
    ) {
        let mut records = pysim_trace(None, None);
        if let Record::Exchange(x) = &mut records[0] {
            if let Recorded::Bytes(c) = &mut x.c_apdu {
                for (i, b) in &flips {
                    let n = c.len();
                    c[(i + 20) % n] ^= b;
                }
            }
            let keep = x.r_apdu.len().saturating_sub(cut).max(2);
            x.r_apdu.drain(..x.r_apdu.len() - keep);
        }
        let _ = decode(&records, &keys());
    }
}

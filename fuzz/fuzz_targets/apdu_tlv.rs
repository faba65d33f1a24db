//! Command and response APDUs (ISO/IEC 7816-4) and strict BER-TLV, fed arbitrary bytes.
//!
//! The first byte selects the parser, the rest is its input. None of them may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::tlv::{Tag, Tlv};
use smsr_proto::{CommandApdu, ResponseApdu};

/// Walks constructed TLVs down to `depth` levels, as the protocol code does with `children`.
fn walk(tlv: &Tlv, depth: usize) {
    if depth == 0 || !tlv.tag.is_constructed() {
        return;
    }
    if let Ok(children) = tlv.children() {
        for c in &children {
            walk(c, depth - 1);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => {
            let _ = CommandApdu::parse(rest);
            let _ = ResponseApdu::parse(rest);
        }
        1 => {
            let _ = Tag::parse(rest);
            if let Ok((tlv, used)) = Tlv::parse_prefix(rest) {
                assert!(used <= rest.len());
                walk(&tlv, 8);
            }
        }
        2 => {
            if let Ok(all) = Tlv::parse_all(rest) {
                for t in &all {
                    walk(t, 8);
                }
            }
        }
        _ => {
            if let Ok(tlv) = Tlv::parse(rest) {
                walk(&tlv, 8);
                let _ = tlv.find(0x80u32);
            }
            let _ = Tlv::parse_expect(rest, 0xE3u32);
        }
    }
});

//! Answer-to-reset parsing (ISO/IEC 7816-3 §8.2), as the tool reads a reader's ATR and the
//! emulator checks a configured one. Must not panic on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = smsr_proto::atr::parse(data);
});

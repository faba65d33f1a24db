//! The whole emulated eUICC fed a sequence of arbitrary command APDUs.
//!
//! The input is cut into commands by a length prefix: each command is one length byte `n`
//! followed by `n` bytes (fewer at the end of the input). A fresh in-memory card with the test
//! keys answers them in order; every answer must be at least a status word, and nothing may
//! panic.

#![no_main]

use euicc_emulator::{CardState, Emulator};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut card = Emulator::in_memory(CardState::new(Some([0x89; 16])));
    let mut rest = data;
    let mut count = 0;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (apdu, next) = tail.split_at(n);
        let response = card.transmit(apdu);
        assert!(
            response.len() >= 2,
            "R-APDU without a status word: {response:02X?}"
        );
        rest = next;
        count += 1;
        if count >= 64 {
            break;
        }
    }
});

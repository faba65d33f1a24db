//! What the in-process integration tests share.

#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;

/// A new emulator card in `state` with this EID and the GP test keys `40…4F` (KVN 30) on its
/// ISD-R (`CardState::new`).
pub fn new_card(state: &Path, eid: &str) {
    let eid: [u8; 16] = hex::decode(eid).unwrap().try_into().unwrap();
    let mut emulator =
        euicc_emulator::Emulator::create(state, euicc_emulator::CardState::new(Some(eid)), false)
            .unwrap();
    emulator.power_off();
}

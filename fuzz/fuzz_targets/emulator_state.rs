//! The emulator's card state file (JSON, versions 1 to 3), read back from disk. Input that is
//! not UTF-8 is skipped: the file is read as a string first. Must not panic on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = euicc_emulator::CardState::from_json(text);
    }
});

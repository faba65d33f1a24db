//! SAIP profile packages (TCA eUICC Profile Package, DER) and the `EUICCResponse` a card sends
//! back. Both arrive from outside: packages from the SM-DP's input files and from SCP03t
//! downloads, responses from the card. Must not panic on any input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::saip::{EuiccResponse, Package};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Package::parse(data) {
        for pe in p.pes() {
            let _ = pe.identification();
        }
    }
    let _ = EuiccResponse::from_der(data);
});

//! ETSI TS 102 226 remote command scripts (what the card receives in an SCP80 command packet,
//! expanded and compact formats) and response scripts (what the SM-SR reads back from a PoR).
//!
//! The first byte selects the parser, the rest is its input. The card-side executors run
//! against a target that answers every command with `9000` and the pass-through TLVs with
//! "unsupported". None of them may panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use smsr_proto::ota::compact::CompactResponse;
use smsr_proto::ota::executor::{execute, execute_bytes, execute_compact, ScriptTarget};
use smsr_proto::ota::response::ResponseScript;
use smsr_proto::ota::script::CommandScript;
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// A card application that accepts every command.
struct Accepting;

impl ScriptTarget for Accepting {
    fn apdu(&mut self, command: &CommandApdu) -> ResponseApdu {
        ResponseApdu::new(command.data.clone(), StatusWord::Success)
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(script) = CommandScript::parse(rest) {
                let _ = script.chaining();
                let _ = execute(&script, &mut Accepting);
            }
            let _ = execute_bytes(rest, &mut Accepting);
        }
        1 => {
            if let Ok(r) = ResponseScript::parse(rest) {
                let _ = r.bad_format();
                let _ = r.response_apdus().count();
            }
        }
        _ => {
            let _ = execute_compact(rest, &mut Accepting);
            let _ = CompactResponse::parse(rest);
        }
    }
});

#![no_main]
//! The vpcd frame reader and the card behind it: arbitrary bytes as what vpcd sends (2-byte
//! lengths, control bytes, C-APDUs), served until the stream ends or breaks; never a panic.

use euicc_emulator::{CardState, Emulator};
use libfuzzer_sys::fuzz_target;
use std::io::{Cursor, Read, Write};

/// What vpcd sends, then what the card wrote back.
struct Vpcd {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Vpcd {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Vpcd {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.output.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut card = Emulator::in_memory(CardState::new(Some([0x89; 16])));
    let mut vpcd = Vpcd {
        input: Cursor::new(data.to_vec()),
        output: Vec::new(),
    };
    let _ = euicc_emulator::vpcd::serve_stream(&mut card, &mut vpcd, |_| {});
    // Every answer is a whole frame.
    let mut out = vpcd.output.as_slice();
    while let [hi, lo, rest @ ..] = out {
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        assert!(rest.len() >= len, "a torn answer frame");
        out = &rest[len..];
    }
    assert!(out.is_empty(), "bytes after the last answer frame");
});

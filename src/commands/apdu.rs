//! `smsr apdu`: raw APDUs, each response printed with its status word's meaning.

use super::{open_card, print_json, sw_hex, CliError};
use crate::cli::{ApduArgs, GlobalArgs};
use crate::hexfmt;
use crate::names::describe_command;
use serde::Serialize;
use smsr_proto::{CommandApdu, ResponseApdu};

#[derive(Debug, Serialize)]
struct Exchanged {
    command: String,
    #[serde(serialize_with = "crate::hexfmt::serialize")]
    c_apdu: Vec<u8>,
    #[serde(serialize_with = "crate::hexfmt::serialize")]
    r_apdu: Vec<u8>,
    #[serde(serialize_with = "crate::hexfmt::serialize")]
    data: Vec<u8>,
    sw: String,
    meaning: String,
}

#[derive(Debug, Serialize)]
struct Output {
    reader: String,
    exchanges: Vec<Exchanged>,
}

/// Parses every argument before anything is sent, so a typo in the third APDU does not leave
/// the first two executed. Each argument is one APDU; spaces and colons inside an argument
/// are ignored (`'00 A4 04 00 00'` quoted is one APDU, as a line of pcsc-tools' scriptor is).
/// Unquoted, the shell makes `00 A4 04 00 00` five arguments: five one-byte "APDUs", refused
/// with the quoted form to use.
fn parse_all(apdus: &[String]) -> Result<Vec<Vec<u8>>, CliError> {
    let spaced_hint = || {
        let short = apdus
            .iter()
            .filter(|a| hexfmt::parse(a).is_ok_and(|b| b.len() <= 2))
            .count();
        if apdus.len() >= 4 && short == apdus.len() {
            format!(
                "; the arguments look like one APDU written with spaces: quote it, \
                 smsr apdu '{}' (each argument is one APDU)",
                apdus.join(" ")
            )
        } else {
            String::new()
        }
    };
    apdus
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let bytes =
                hexfmt::parse(text).map_err(|e| CliError::Input(format!("APDU {}: {e}", i + 1)))?;
            CommandApdu::parse(&bytes).map_err(|e| {
                CliError::Input(format!(
                    "APDU {} ({}) is not a command APDU: {e}; give CLA INS P1 P2 [Lc data] [Le]{}",
                    i + 1,
                    hexfmt::upper(&bytes),
                    spaced_hint()
                ))
            })?;
            Ok(bytes)
        })
        .collect()
}

pub fn run(g: &GlobalArgs, args: &ApduArgs) -> Result<(), CliError> {
    let commands = parse_all(&args.apdus)?;
    let mut card = open_card(g)?;
    let mut out = Output {
        reader: card.reader_name(),
        exchanges: Vec::new(),
    };
    let mut failed = None;
    for c in commands {
        let r_apdu = card.transmit(&c)?;
        let r = ResponseApdu::parse(&r_apdu).map_err(|e| {
            CliError::BadResponse(format!("response {}: {e}", hexfmt::upper(&r_apdu)))
        })?;
        let ok = r.sw.is_success() || r.sw.is_warning();
        let x = Exchanged {
            command: describe_command(&c),
            c_apdu: c,
            r_apdu: r_apdu.clone(),
            data: r.data.clone(),
            sw: sw_hex(r.sw),
            meaning: r.sw.meaning(),
        };
        if !g.json {
            println!("> {}  {}", hexfmt::upper(&x.c_apdu), x.command);
            if !x.data.is_empty() {
                println!("< {}", hexfmt::upper(&x.data));
            }
            println!("< {} {}", x.sw, x.meaning);
        }
        out.exchanges.push(x);
        if !ok && failed.is_none() {
            failed = Some(r.sw);
            if !args.keep_going {
                break;
            }
        }
    }
    if g.json {
        print_json(&out);
    }
    match failed {
        Some(sw) => Err(CliError::Failed(format!(
            "the card answered {} ({}){}",
            sw_hex(sw),
            sw.meaning(),
            if args.keep_going {
                ""
            } else {
                "; the APDUs after it were not sent (--keep-going sends them anyway)"
            }
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_apdu_is_checked_before_sending() {
        let err = parse_all(&["00A40400".into(), "80CA00".into()]).unwrap_err();
        assert!(err.to_string().contains("APDU 2"), "{err}");
        let err = parse_all(&["00A4040Z".into()]).unwrap_err();
        assert!(err.to_string().contains("APDU 1"), "{err}");
        let ok = parse_all(&["00 a4 04 00".into(), "80:CA:00:5A:00".into()]).unwrap();
        assert_eq!(ok[1], vec![0x80, 0xCA, 0x00, 0x5A, 0x00]);
    }

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_spaced_apdu_is_one_argument_and_unquoted_bytes_get_the_quoted_form() {
        let one = parse_all(&args(&["00 A4 04 00 00", "80:CA:00:5A:00"])).unwrap_or_default();
        assert_eq!(
            one,
            vec![
                vec![0x00, 0xA4, 0x04, 0x00, 0x00],
                vec![0x80, 0xCA, 0x00, 0x5A, 0x00]
            ]
        );
        let e = parse_all(&args(&["00", "A4", "04", "00", "00"]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("smsr apdu '00 A4 04 00 00'"), "{e}");
        // A short APDU among long ones is a plain error, without the hint.
        let e = parse_all(&args(&["00A4040000", "00"]))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("APDU 2 (00)") && !e.contains("quote"), "{e}");
    }
}

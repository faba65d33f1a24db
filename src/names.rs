//! Names for listings: instructions (ISO/IEC 7816-4, ETSI TS 102 221, GlobalPlatform Card
//! Specification v2.3.1 §11, Amendment D), GET DATA tags, and AIDs
//! ([`smsr_proto::gp::aid::known_aid_name`]). The one place such tables live.

use crate::hexfmt;
use smsr_proto::gp::aid::known_aid_name;
use smsr_proto::CommandApdu;

/// The name of an instruction. GlobalPlatform and ISO share some INS values; the class byte
/// tells them apart where needed (b8 set: proprietary class, GlobalPlatform).
pub fn instruction_name(cla: u8, ins: u8) -> Option<&'static str> {
    let proprietary = cla & 0x80 != 0 && cla != 0xA0;
    let name = match ins {
        0xA4 => "SELECT",
        0xC0 => "GET RESPONSE",
        0xCA | 0xCB => "GET DATA",
        0x70 => "MANAGE CHANNEL",
        0xB0 => "READ BINARY",
        0xD6 => "UPDATE BINARY",
        0xB2 => "READ RECORD",
        0xDC => "UPDATE RECORD",
        0xA2 => "SEARCH RECORD",
        0x20 => "VERIFY PIN",
        0x24 => "CHANGE PIN",
        0x26 => "DISABLE PIN",
        0x28 => "ENABLE PIN",
        0x2C => "UNBLOCK PIN",
        0x88 => "AUTHENTICATE",
        0x84 => "GET CHALLENGE",
        0xF2 => "STATUS",
        0x10 => "TERMINAL PROFILE",
        0x12 => "FETCH",
        0x14 => "TERMINAL RESPONSE",
        0xC2 => "ENVELOPE",
        0x50 if proprietary => "INITIALIZE UPDATE",
        0x82 if proprietary => "EXTERNAL AUTHENTICATE",
        0x82 => "EXTERNAL AUTHENTICATE (ISO)",
        0xE6 => "INSTALL",
        0xE8 => "LOAD",
        0xE4 => "DELETE",
        0xE2 => "STORE DATA",
        0xF0 => "SET STATUS",
        0xD8 => "PUT KEY",
        0x7A => "BEGIN R-MAC SESSION",
        0x78 => "END R-MAC SESSION",
        _ => return None,
    };
    // GET STATUS shares F2 with the UICC STATUS; the match above catches the ISO one first.
    if ins == 0xF2 && proprietary {
        return Some("GET STATUS");
    }
    Some(name)
}

/// The name of a GET DATA tag (P1 P2).
pub fn data_object_name(tag: u16) -> Option<&'static str> {
    Some(match tag {
        0x005A => "EID",
        0x0042 => "IIN",
        0x0045 => "CIN",
        0x0066 => "card data",
        0x00E0 => "key information template",
        0x00C1 => "sequence counter",
        0x00C2 => "confirmation counter",
        0x00CF => "key diversification data",
        0x9F7F => "CPLC",
        0xFF21 => "extended card resources",
        0x00D3 => "current security level",
        0x2F00 => "list of applications",
        _ => return None,
    })
}

/// An AID with its name when known: `ISD-R (A0000005591010FFFFFFFF8900000100)`.
pub fn aid_label(aid: &[u8]) -> String {
    match known_aid_name(aid) {
        Some(name) => format!("{name} ({})", hexfmt::upper(aid)),
        None => hexfmt::upper(aid),
    }
}

/// A one-line description of a command: instruction name and what it addresses.
pub fn describe_command(bytes: &[u8]) -> String {
    let Ok(cmd) = CommandApdu::parse(bytes) else {
        return match bytes {
            [cla, ins, ..] => {
                instruction_name(*cla, *ins).map_or_else(|| format!("INS {ins:02X}"), str::to_owned)
            }
            _ => "(not a command)".to_owned(),
        };
    };
    let secure = cla_has_secure_messaging(cmd.cla);
    let Some(name) = instruction_name(cmd.cla, cmd.ins) else {
        return format!("INS {:02X}", cmd.ins);
    };
    let mut text = name.to_owned();
    let detail = match cmd.ins {
        0xA4 if cmd.p1 == 0x04 && !secure => Some(aid_label(&cmd.data)),
        0xA4 if !cmd.data.is_empty() && !secure => {
            Some(format!("file {}", hexfmt::upper(&cmd.data)))
        }
        0xCA => {
            let tag = u16::from_be_bytes([cmd.p1, cmd.p2]);
            Some(match data_object_name(tag) {
                Some(n) => format!("{tag:02X} ({n})"),
                None => format!("{tag:02X}"),
            })
        }
        0x50 => Some(format!("KVN {:02X}", cmd.p1)),
        0x82 => Some(format!("level {:02X}", cmd.p1)),
        0x70 if cmd.p1 == 0x80 => Some(format!("close channel {}", cmd.p2)),
        0x70 => Some("open channel".to_owned()),
        0x14 => smsr_proto::cat::CommandDetails::peek(&cmd.data).map(|d| {
            let result = smsr_proto::cat::TerminalResponse::parse(&cmd.data)
                .map(|r| format!(", result {:02X}", r.general_result))
                .unwrap_or_default();
            format!("to {}{result}", smsr_proto::cat::command_type::name(d.kind))
        }),
        0xC2 => match cmd.data.first() {
            Some(0xD1) => Some("SMS-PP download".to_owned()),
            Some(0xD6) => Some(match smsr_proto::cat::Event::parse(&cmd.data) {
                Ok(smsr_proto::cat::Event::DataAvailable { length, .. }) => {
                    format!("event: data available ({length} bytes)")
                }
                Ok(smsr_proto::cat::Event::ChannelStatus { channel_status }) => {
                    format!("event: channel status {}", hexfmt::upper(&channel_status))
                }
                Err(_) => "event download".to_owned(),
            }),
            _ => None,
        },
        _ => None,
    };
    if let Some(d) = detail {
        text.push(' ');
        text.push_str(&d);
    }
    if secure {
        text.push_str(" [secure messaging]");
    }
    text
}

/// What a FETCH's response holds: the proactive command's name and, for BIP, its channel
/// data length (`OPEN CHANNEL`, `SEND DATA (237 bytes)`).
pub fn describe_proactive(data: &[u8]) -> Option<String> {
    use smsr_proto::cat::Proactive;
    let command = Proactive::parse(data).ok()?;
    Some(match &command {
        Proactive::SendData(s) => format!(
            "{} ({} bytes{})",
            command.name(),
            s.data.len(),
            if s.flush { ", send now" } else { "" }
        ),
        Proactive::ReceiveData(r) => format!("{} ({} bytes asked)", command.name(), r.length),
        Proactive::OpenChannel(o) => match (&o.destination, o.transport) {
            (Some(d), Some(t)) => format!(
                "{} to {}:{} (buffer {})",
                command.name(),
                d.ipv4()
                    .map_or_else(|| hexfmt::upper(&d.address), |ip| ip.to_string()),
                t.port,
                o.buffer_size
            ),
            _ => command.name().to_owned(),
        },
        _ => command.name().to_owned(),
    })
}

/// Whether a class byte says the command is protected by secure messaging (ISO/IEC 7816-4
/// §5.4.1: first interindustry b4 b3 ≠ 00; further interindustry b6; GlobalPlatform classes
/// follow the same bits).
pub fn cla_has_secure_messaging(cla: u8) -> bool {
    if cla & 0x40 == 0 {
        cla & 0x0C != 0
    } else {
        cla & 0x20 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_named_with_their_target() {
        let select_isd_r = hexfmt::parse("00A4040010A0000005591010FFFFFFFF8900000100").unwrap();
        assert_eq!(
            describe_command(&select_isd_r),
            "SELECT ISD-R (A0000005591010FFFFFFFF8900000100)"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("80CA005A00").unwrap()),
            "GET DATA 5A (EID)"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("8050300008 0102030405060708 00").unwrap()),
            "INITIALIZE UPDATE KVN 30"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("84F22002 02 4F00").unwrap()),
            "GET STATUS [secure messaging]"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("80F2000000").unwrap()),
            "GET STATUS"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("00F2000000").unwrap()),
            "STATUS"
        );
        assert_eq!(
            describe_command(&hexfmt::parse("00FE0000").unwrap()),
            "INS FE"
        );
        assert_eq!(describe_command(&[0x00]), "(not a command)");
    }

    #[test]
    fn secure_messaging_bits() {
        assert!(!cla_has_secure_messaging(0x80));
        assert!(cla_has_secure_messaging(0x84));
        assert!(cla_has_secure_messaging(0x0C));
        assert!(!cla_has_secure_messaging(0x41));
        assert!(cla_has_secure_messaging(0xE1));
    }
}

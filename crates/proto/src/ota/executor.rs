//! The card side of ETSI TS 102 226 §5.2: run a command script against an application and build
//! the response script.
//!
//! Command TLVs run in order. A C-APDU whose status word ends the script (see
//! [`continues_script`]) stops execution: its R-APDU is the last one reported, and the error
//! action TLV that preceded it (if any) is handed back to the caller. A command the target does
//! not support, or a TLV that does not parse, ends the script with a bad format TLV (`90`), as a
//! card reading the script one TLV at a time would: the commands before it have run.

use super::compact::CompactResponse;
use super::script::{
    unwrap_template, BadFormat, CommandScript, CommandTlv, LengthForm, ResponseScript, ResponseTlv,
    ScriptChaining, ScriptError, TAG_COMMAND_SCRIPT, TAG_COMMAND_SCRIPT_INDEFINITE,
};
use crate::apdu::{CommandApdu, ResponseApdu};
use crate::status::StatusWord;
use crate::tlv::{Tlv, TlvError};

/// Whether a C-APDU's status word lets the script go on.
///
/// TS 102 226 stops a script at the first command that fails. A failure is any status word
/// other than normal processing (`9000`, and `91xx`/`92xx`, normal processing with extra
/// information in ETSI TS 102 221 §10.2.1.1), response data available (`61xx`, and `9Fxx` its
/// GSM form: the command succeeded) or a warning (`62xx`, `63xx`: ISO/IEC 7816-4 processing
/// completed). The Onomondo softsim RFM implementation (`sw.c` `ss_sw_is_successful`) stops on
/// the same codes except that it has no `92xx`/`9Fxx` case. This is the one place the rule
/// lives.
pub fn continues_script(sw: StatusWord) -> bool {
    match sw.to_bytes() {
        [0x90, 0x00] => true,
        [sw1, _] => matches!(sw1, 0x91 | 0x92 | 0x61 | 0x9F | 0x62 | 0x63),
    }
}

/// What the target did with a pass-through (SCP03t) command TLV.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawOutcome {
    /// Processed; the response TLV is reported and the script goes on.
    Continue(Tlv),
    /// Failed; the response TLV (e.g. `9F46 01 02`) is reported and the script stops.
    Stop(Tlv),
    /// The target does not handle this TLV: the script stops with bad format `01`.
    Unsupported,
}

/// The application a script is addressed to.
///
/// Any `FnMut(&CommandApdu) -> ResponseApdu` is a target that handles C-APDUs only.
pub trait ScriptTarget {
    /// Processes one C-APDU.
    fn apdu(&mut self, command: &CommandApdu) -> ResponseApdu;

    /// Processes one pass-through command TLV (SCP03t `84`/`85`/`86`).
    fn raw(&mut self, _tlv: &Tlv) -> RawOutcome {
        RawOutcome::Unsupported
    }

    /// Told, before a command packet's script runs, which TAR the packet was addressed to
    /// (an application may answer several TARs: the ISD-R's and each ISD-P's, SGP.02 §2.4.3).
    fn addressed(&mut self, _tar: [u8; 3]) {}

    /// Performs an immediate action; returns the immediate action response value, if any.
    fn immediate_action(&mut self, _value: &[u8]) -> Option<Vec<u8>> {
        None
    }

    /// Takes secured data that is the HTTPS administration session triggering parameters
    /// (tag `81`, GP Amendment B) instead of a script; returns the status word of the
    /// outcome, or `None` when the target does not take triggers (the data is then read as
    /// a script).
    fn admin_trigger(&mut self, _parameters: &[u8]) -> Option<StatusWord> {
        None
    }
}

impl<F: FnMut(&CommandApdu) -> ResponseApdu> ScriptTarget for F {
    fn apdu(&mut self, command: &CommandApdu) -> ResponseApdu {
        self(command)
    }
}

/// The result of running a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Execution {
    /// The response script to send back (same length form as the command script).
    pub response: ResponseScript,
    /// The script chaining TLV of the command script, if any.
    pub chaining: Option<ScriptChaining>,
    /// Whether every command TLV ran and the script was well formed.
    pub completed: bool,
    /// The error action that preceded the command that failed, for the caller to perform.
    pub error_action: Option<Vec<u8>>,
}

struct Runner {
    form: LengthForm,
    executed: u8,
    items: Vec<ResponseTlv>,
    chaining: Option<ScriptChaining>,
    pending_error_action: Option<Vec<u8>>,
    error_action: Option<Vec<u8>>,
    completed: bool,
}

impl Runner {
    fn new(form: LengthForm) -> Self {
        Self {
            form,
            executed: 0,
            items: Vec::new(),
            chaining: None,
            pending_error_action: None,
            error_action: None,
            completed: true,
        }
    }

    fn bad(&mut self, b: BadFormat) {
        self.items.push(ResponseTlv::BadFormat(b));
        self.completed = false;
    }

    fn fail(&mut self) -> bool {
        self.error_action = self.pending_error_action.take();
        self.completed = false;
        false
    }

    /// Runs one command TLV; false when the script must stop.
    fn step(&mut self, item: &CommandTlv, target: &mut impl ScriptTarget) -> bool {
        match item {
            CommandTlv::Chaining(c) => {
                self.chaining = Some(*c);
                return true;
            }
            CommandTlv::ErrorAction(v) => {
                self.pending_error_action = Some(v.clone());
                return true;
            }
            CommandTlv::Apdu(c) => {
                let r = target.apdu(c);
                let ok = continues_script(r.sw);
                self.executed = self.executed.saturating_add(1);
                self.items.push(ResponseTlv::Apdu(r));
                if !ok {
                    return self.fail();
                }
            }
            CommandTlv::ImmediateAction(v) => {
                self.executed = self.executed.saturating_add(1);
                if let Some(r) = target.immediate_action(v) {
                    self.items.push(ResponseTlv::ImmediateActionResponse(r));
                }
            }
            CommandTlv::Raw(t) => match target.raw(t) {
                RawOutcome::Continue(r) => {
                    self.executed = self.executed.saturating_add(1);
                    self.items.push(ResponseTlv::Raw(r));
                }
                RawOutcome::Stop(r) => {
                    self.executed = self.executed.saturating_add(1);
                    self.items.push(ResponseTlv::Raw(r));
                    return self.fail();
                }
                RawOutcome::Unsupported => {
                    self.bad(BadFormat::UnknownTag);
                    return false;
                }
            },
        }
        self.pending_error_action = None;
        true
    }

    fn finish(self) -> Execution {
        Execution {
            response: ResponseScript {
                form: self.form,
                executed: self.executed,
                items: self.items,
            },
            chaining: self.chaining,
            completed: self.completed,
            error_action: self.error_action,
        }
    }
}

/// Runs a parsed command script against `target`.
pub fn execute(script: &CommandScript, target: &mut impl ScriptTarget) -> Execution {
    let mut runner = Runner::new(script.form);
    for item in &script.items {
        if !runner.step(item, target) {
            break;
        }
    }
    runner.finish()
}

/// Reads a command script one TLV at a time and runs it, as a card does: a malformed TLV stops
/// the script with a bad format TLV after the commands before it have run.
///
/// Errors only when the bytes do not start with a command scripting template tag (`AA`/`AE`),
/// so that no response script can be addressed.
pub fn execute_bytes(
    bytes: &[u8],
    target: &mut impl ScriptTarget,
) -> Result<Execution, ScriptError> {
    let (form, body, at) = match bytes.first() {
        Some(&TAG_COMMAND_SCRIPT) => match unwrap_template(
            bytes,
            TAG_COMMAND_SCRIPT,
            TAG_COMMAND_SCRIPT_INDEFINITE,
            "command",
        ) {
            Ok(x) => x,
            Err(e) => return Ok(bad_only(LengthForm::Definite, BadFormat::for_error(&e))),
        },
        Some(&TAG_COMMAND_SCRIPT_INDEFINITE) => {
            if bytes.get(1) != Some(&0x80) {
                return Ok(bad_only(LengthForm::Indefinite, BadFormat::WrongLength));
            }
            (LengthForm::Indefinite, &bytes[2..], 2)
        }
        Some(&found) => {
            return Err(ScriptError::NotATemplate {
                expected: "command",
                found,
            })
        }
        None => {
            return Err(ScriptError::Tlv(TlvError::Truncated {
                offset: 0,
                tag: None,
                what: "tag",
            }))
        }
    };
    let mut runner = Runner::new(form);
    let mut pos = 0;
    loop {
        let rest = &body[pos..];
        if form == LengthForm::Indefinite {
            if rest.starts_with(&[0, 0]) {
                if rest.len() != 2 {
                    runner.bad(BadFormat::WrongLength);
                }
                break;
            }
            if rest.is_empty() {
                runner.bad(BadFormat::LengthNotFound);
                break;
            }
        } else if rest.is_empty() {
            break;
        }
        let parsed = Tlv::parse_prefix(rest)
            .map_err(|e: TlvError| ScriptError::Tlv(e.shifted(at + pos)))
            .and_then(|(t, used)| CommandTlv::from_tlv(t, at + pos).map(|i| (i, used)));
        match parsed {
            Ok((item, used)) => {
                if !runner.step(&item, target) {
                    break;
                }
                pos += used;
            }
            Err(e) => {
                runner.bad(BadFormat::for_error(&e));
                break;
            }
        }
    }
    Ok(runner.finish())
}

/// Instructions whose P3 is Le (the command carries no data) in the compact format, as a T=0
/// card reads P3: READ BINARY, READ RECORD, GET RESPONSE, GET DATA, STATUS, FETCH, and GP's
/// GET STATUS with no search criteria never comes alone, so it is not among them.
const OUTGOING_INS: [u8; 6] = [0xB0, 0xB2, 0xC0, 0xCA, 0xF2, 0x12];

/// The first C-APDU of a compact command string (TS 102 226 §5.1.1: C-APDUs one after the other,
/// `CLA INS P1 P2 P3 [data]`, P3 read as Lc or Le by the instruction as under T=0), and the
/// bytes it takes.
fn compact_command(bytes: &[u8]) -> Option<(CommandApdu, usize)> {
    let [cla, ins, p1, p2, p3, rest @ ..] = bytes else {
        return None;
    };
    let header = CommandApdu::new(*cla, *ins, *p1, *p2);
    if OUTGOING_INS.contains(ins) {
        let le = if *p3 == 0 { 256 } else { usize::from(*p3) };
        return Some((header.with_le(le), 5));
    }
    let n = usize::from(*p3);
    let data = rest.get(..n)?;
    Some((header.with_data(data.to_vec()), 5 + n))
}

/// Runs a command packet's secured data in the compact format (TS 102 226 §5.1.1) and returns
/// the compact remote response (§5.1.2): the number of commands executed, the status word and
/// response data of the last one. It stops as an expanded script does
/// ([`continues_script`]); a command cut short ends it with `6700` (wrong length) after the
/// ones before it ran.
pub fn execute_compact(bytes: &[u8], target: &mut impl ScriptTarget) -> CompactResponse {
    let mut executed = 0u8;
    let mut last = ResponseApdu::status(StatusWord::Success);
    let mut pos = 0;
    while pos < bytes.len() {
        let Some((command, used)) = compact_command(&bytes[pos..]) else {
            last = ResponseApdu::status(StatusWord::WrongLength);
            break;
        };
        last = target.apdu(&command);
        executed = executed.saturating_add(1);
        pos += used;
        if !continues_script(last.sw) {
            break;
        }
    }
    CompactResponse {
        executed,
        sw: last.sw,
        data: last.data,
    }
}

fn bad_only(form: LengthForm, b: BadFormat) -> Execution {
    let mut runner = Runner::new(form);
    runner.bad(b);
    runner.finish()
}

#[cfg(test)]
#[path = "executor_tests.rs"]
mod tests;

//! The exit codes of `smsr`, documented in `smsr --help` and the README.

/// Everything worked.
pub const SUCCESS: u8 = 0;
/// The operation ran but did not succeed: the card answered an error status word, a check of
/// `smsr doctor` failed, or the card cryptogram did not match the keys (`gp keys-check`).
pub const FAILURE: u8 = 1;
/// The command line is wrong (clap's own code).
pub const USAGE: u8 = 2;
/// No card could be reached: pcscd not running, no reader, no card, card held by another
/// program, emulator state missing or its card served by another process; or the registry held
/// locked by another process past the wait.
pub const NO_CARD: u8 = 3;
/// The card was reached and then the link failed: card reset or removed, response lost.
pub const COMMUNICATION: u8 = 4;
/// An input file or value is wrong: trace, keystore, hex, state file.
pub const INPUT: u8 = 5;
/// A secure channel could not be opened or was broken: wrong keys, MAC failure.
pub const SECURITY: u8 = 6;

/// A service (SM-SR, SM-DP) could not be reached: not running, wrong URL, TLS refused.
pub const SERVICE: u8 = 7;

/// The table shown by `smsr --help`.
/// The name of an exit code in `--json` errors, and the general fix for it (the message
/// names the particular cause).
pub fn describe(code: u8) -> (&'static str, &'static str) {
    match code {
        FAILURE => (
            "failure",
            "see the message: the card or a check refused the operation",
        ),
        USAGE => ("usage", "see `smsr help` for the command's options"),
        NO_CARD => (
            "no-card",
            "check pcscd, the reader and the card with `smsr doctor` (or the emulator's state file)",
        ),
        COMMUNICATION => (
            "communication",
            "the card was lost mid-operation: re-insert it, run `smsr audit`, then try again",
        ),
        INPUT => ("input", "correct the file or value the message names"),
        SECURITY => (
            "security",
            "check the keys (keystore, EIS) the message names with `smsr gp keys-check`",
        ),
        SERVICE => (
            "service",
            "start the service or correct its URL and TLS files; `smsr doctor --sm-dp URL --sm-sr URL`",
        ),
        _ => ("other", "see the message"),
    }
}

pub const HELP: &str = "Exit codes:
  0  success
  1  the card refused (error status word), a doctor check failed, keys do not match
  2  wrong command line
  3  no card reached: pcscd not running, no reader, no card, card in use;
     or the registry held locked by another process past the 30 s wait
  4  the card was reached and then lost: reset, removed, no response
  5  bad input: trace, keystore, hex or state file
  6  secure channel failed: wrong keys, MAC verification failed
  7  a service (SM-SR, SM-DP) could not be reached: not running, wrong URL, TLS refused";

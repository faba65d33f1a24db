//! TERMINAL PROFILE (TS 102 223 §5.2; the APDU is TS 102 221 §10.1.x, clause recalled): the
//! facilities the terminal announces to the UICC, one bit each.

use crate::apdu::CommandApdu;

/// The profile our terminal sends: only what the host implements (17 bytes; TS 102 223 §5.2,
/// bit positions checked against the table in SCP81-BIP.md §3.10):
///
/// | byte | value | bits set |
/// |---|---|---|
/// | 1 | `23` | b1 profile download, b2 SMS-PP data download, b6 timer expiration |
/// | 2 | `01` | b1 command result |
/// | 3 | `68` | b4 MORE TIME, b6 POLL INTERVAL, b7 POLLING OFF |
/// | 4 | `02` | b2 SEND SHORT MESSAGE |
/// | 5 | `01` | b1 SET UP EVENT LIST |
/// | 6 | `0C` | b3 event: data available, b4 event: channel status |
/// | 7 | `00` | (multiple card commands, class "a") |
/// | 8 | `00` | none: TIMER MANAGEMENT (b1/b2) is not implemented by the host, so not announced |
/// | 9–11 | `00` | (display, DTMF, browser, soft keys) |
/// | 12 | `1F` | BIP class "e": b1 OPEN CHANNEL, b2 CLOSE CHANNEL, b3 RECEIVE DATA, b4 SEND DATA, b5 GET CHANNEL STATUS |
/// | 13 | `22` | b2 GPRS; b6–b8 number of channels = 1 (`001` → `20`) |
/// | 14–16 | `00` | (screen height, width, effects) |
/// | 17 | `01` | b1 TCP, UICC in client mode, remote connection |
///
/// The suggestion in SCP81-BIP.md §3.10 had byte 8 = `03` (TIMER MANAGEMENT start/stop and get
/// current value); set it there only once the terminal answers TIMER MANAGEMENT.
pub const TERMINAL_PROFILE_BIP: [u8; 17] = [
    0x23, 0x01, 0x68, 0x02, 0x01, 0x0C, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F, 0x22, 0x00, 0x00, 0x00,
    0x01,
];

/// The TERMINAL PROFILE command `80 10 00 00 Lc profile` (no Le).
pub fn terminal_profile_apdu(profile: &[u8]) -> CommandApdu {
    CommandApdu::new(0x80, 0x10, 0x00, 0x00).with_data(profile.to_vec())
}

/// Whether a terminal profile announces what a BIP client channel needs: byte 12 b1–b4 (OPEN
/// CHANNEL, CLOSE CHANNEL, RECEIVE DATA, SEND DATA) and byte 17 b1 (TCP, UICC in client mode,
/// remote connection). A shorter profile announces nothing in the missing bytes.
pub fn announces_bip(profile: &[u8]) -> bool {
    let class_e = profile.get(11).is_some_and(|b| b & 0x0F == 0x0F);
    let tcp_client = profile.get(16).is_some_and(|b| b & 0x01 != 0);
    class_e && tcp_client
}

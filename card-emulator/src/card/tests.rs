//! Dispatch rules of [`Card::handle`].

use super::*;
use crate::eid::parse_eid;

const EID: &str = "89044011112233441122334411223321";

fn card() -> Card {
    Card::new(CardState::new(Some(parse_eid(EID).unwrap())))
}

/// Sends a hex command and returns the response as hex (data then SW).
fn send(card: &mut Card, c_apdu: &str) -> String {
    let cmd = CommandApdu::parse(&hex::decode(c_apdu).unwrap()).unwrap();
    hex::encode_upper(card.handle(&cmd).to_bytes())
}

fn sw(card: &mut Card, c_apdu: &str) -> String {
    let r = send(card, c_apdu);
    r[r.len() - 4..].to_owned()
}

const SELECT_ECASD: &str = "00A4040010A0000005591010FFFFFFFF8900000200";
const SELECT_ISD_R: &str = "00A4040010A0000005591010FFFFFFFF8900000100";

#[test]
fn unknown_class_is_6e00() {
    let mut c = card();
    for cla in ["FF", "20", "3C", "A0", "B0"] {
        assert_eq!(sw(&mut c, &format!("{cla}A4000C023F00")), "6E00", "{cla}");
    }
    // SELECT and MANAGE CHANNEL exist only in the interindustry class.
    assert_eq!(sw(&mut c, "80A4000C023F00"), "6E00");
    assert_eq!(sw(&mut c, "8070000001"), "6E00");
}

#[test]
fn unknown_instruction_is_6d00() {
    let mut c = card();
    assert_eq!(sw(&mut c, "00120000"), "6D00");
    assert_eq!(sw(&mut c, "80CA005A00"), "6D00", "the MF has no GET DATA");
    send(&mut c, SELECT_ECASD);
    assert_eq!(sw(&mut c, "80E2910000"), "6D00");
    send(&mut c, SELECT_ISD_R);
    assert_eq!(sw(&mut c, "80F4000000"), "6D00");
}

#[test]
fn bad_parameters_are_6a86() {
    let mut c = card();
    for cmd in [
        "00A4050010A0000005591010FFFFFFFF8900000200", // P1 05
        "00A4041010A0000005591010FFFFFFFF8900000200", // P2 b5
        "00A4040810A0000005591010FFFFFFFF8900000200", // P2 FMD
        "00A4040110A0000005591010FFFFFFFF8900000200", // last occurrence
        "00A40000023F00",                             // P2 00 by FID
        "00A4000D023F00",
        "0070400000", // MANAGE CHANNEL P1 40
        "0070001400", // channel 20
        "00708000",   // close the basic channel
    ] {
        assert_eq!(sw(&mut c, cmd), "6A86", "{cmd}");
    }
}

#[test]
fn wrong_lengths_are_6700() {
    let mut c = card();
    for cmd in [
        "00A4000C013F",
        "00A4000C033F0000",
        "00A4040C11A0000005591010FFFFFFFF890000020000", // 17-byte AID
        "00A4080C013F",
        "00A4030C023F00",
        "0070000001AA",
    ] {
        assert_eq!(sw(&mut c, cmd), "6700", "{cmd}");
    }
    send(&mut c, SELECT_ECASD);
    assert_eq!(
        sw(&mut c, "80CA005A015A00"),
        "6700",
        "GET DATA 5A takes no data"
    );
}

#[test]
fn unknown_aid_and_file_are_6a82_and_keep_the_selection() {
    let mut c = card();
    send(&mut c, SELECT_ECASD);
    assert_eq!(
        sw(&mut c, "00A4040010A0000005591010FFFFFFFF8900000300"),
        "6A82"
    );
    assert_eq!(sw(&mut c, "00A4040007A000000151000000"), "6A82");
    assert_eq!(sw(&mut c, "00A4000C022FE2"), "6A82");
    assert_eq!(sw(&mut c, "00A4080C022FE2"), "6A82");
    assert_eq!(sw(&mut c, "00A4030C"), "6A82");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::Ecasd))
    );
}

#[test]
fn ecasd_select_and_get_eid() {
    let mut c = card();
    assert_eq!(
        send(&mut c, &format!("{SELECT_ECASD}00")),
        concat!(
            "6F18",
            "8410A0000005591010FFFFFFFF8900000200",
            "A5049F6501FF",
            "9000"
        )
    );
    for cla in ["00", "80", "01"] {
        if cla == "01" {
            assert_eq!(send(&mut c, "0070000101"), "9000");
            send(&mut c, &SELECT_ECASD.replacen("00", "01", 1));
        }
        assert_eq!(
            send(&mut c, &format!("{cla}CA005A00")),
            format!("5A10{EID}9000"),
            "CLA {cla}"
        );
    }
    // Only the EID is there; secure messaging is not supported.
    assert_eq!(sw(&mut c, "80CA006600"), "6A88");
    assert_eq!(sw(&mut c, "84CA005A00"), "6882");
}

#[test]
fn isd_r_is_selectable_and_has_no_eid() {
    let mut c = card();
    assert_eq!(
        send(&mut c, SELECT_ISD_R),
        concat!(
            "6F18",
            "8410A0000005591010FFFFFFFF8900000100",
            "A5049F6501FF",
            "9000"
        )
    );
    assert_eq!(sw(&mut c, "80CA005A00"), "6A88");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::IsdR))
    );
    // P2 0C: no data. No data at all: the ISD-R.
    assert_eq!(
        send(&mut c, "00A4040C10A0000005591010FFFFFFFF8900000200"),
        "9000"
    );
    assert_eq!(send(&mut c, "00A4040000")[..8], *"6F188410");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::IsdR))
    );
}

#[test]
fn partial_aid_first_and_next_occurrence() {
    let mut c = card();
    let prefix = "0CA0000005591010FFFFFFFF89";
    assert_eq!(send(&mut c, &format!("00A4040C{prefix}")), "9000");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::IsdR))
    );
    assert_eq!(send(&mut c, &format!("00A4040E{prefix}")), "9000");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::Ecasd))
    );
    assert_eq!(sw(&mut c, &format!("00A4040E{prefix}")), "6A82");
    assert_eq!(
        c.selected(0),
        Some(Selected::Application(Application::Ecasd))
    );
}

#[test]
fn mf_select_returns_the_fcp() {
    let mut c = card();
    send(&mut c, SELECT_ISD_R);
    let r = send(&mut c, "00A40004023F0000");
    assert_eq!(r, hex::encode_upper(fs::mf_fcp()) + "9000");
    assert_eq!(c.selected(0), Some(Selected::Mf));
    send(&mut c, SELECT_ISD_R);
    assert_eq!(send(&mut c, "00A4000C023F00"), "9000");
    assert_eq!(c.selected(0), Some(Selected::Mf));
    send(&mut c, SELECT_ISD_R);
    assert_eq!(send(&mut c, "00A4000C"), "9000");
    assert_eq!(c.selected(0), Some(Selected::Mf));
}

#[test]
fn manage_channel_open_close_and_selection_per_channel() {
    let mut c = card();
    assert_eq!(send(&mut c, "0070000001"), "019000");
    assert_eq!(send(&mut c, "0070000001"), "029000");
    assert_eq!(send(&mut c, "0070000301"), "9000");
    assert_eq!(sw(&mut c, "0070000001"), "6A81", "no channel left");
    assert_eq!(sw(&mut c, "0070000200"), "6985", "already open");
    assert_eq!(sw(&mut c, "0070000500"), "6881");
    // Each channel has its own selection; a new channel from channel 0 starts at the MF.
    send(&mut c, &SELECT_ECASD.replacen("00", "02", 1));
    assert_eq!(
        c.selected(2),
        Some(Selected::Application(Application::Ecasd))
    );
    assert_eq!(c.selected(1), Some(Selected::Mf));
    assert_eq!(c.selected(0), Some(Selected::Mf));
    assert_eq!(send(&mut c, "02CA005A00"), format!("5A10{EID}9000"));
    assert_eq!(sw(&mut c, "01CA005A00"), "6D00");
    // Close channel 1 from channel 0, channel 3 from itself.
    assert_eq!(send(&mut c, "00708001"), "9000");
    assert_eq!(send(&mut c, "03708000"), "9000");
    assert_eq!(sw(&mut c, "00708001"), "6200");
    assert_eq!(sw(&mut c, "01CA005A00"), "6881");
    assert_eq!(sw(&mut c, "00708005"), "6881");
    // Opened from channel 2: inherits its selection.
    assert_eq!(send(&mut c, "0270000001"), "019000");
    assert_eq!(
        c.selected(1),
        Some(Selected::Application(Application::Ecasd))
    );
    // Further interindustry classes address channels 4-19, none open.
    assert_eq!(sw(&mut c, "40A4000C023F00"), "6881");
    assert_eq!(sw(&mut c, "C0CA005A00"), "6881");
    c.reset();
    assert!(c.is_channel_open(0));
    assert!(!c.is_channel_open(1) && !c.is_channel_open(2));
    assert_eq!(c.selected(0), Some(Selected::Mf));
}

#[test]
fn chaining_and_secure_messaging_at_card_level() {
    let mut c = card();
    assert_eq!(sw(&mut c, "10A4000C023F00"), "6884");
    assert_eq!(sw(&mut c, "04A4000C023F00"), "6882");
    assert_eq!(sw(&mut c, "0CA4000C023F00"), "6882");
}

#[test]
fn nothing_here_changes_non_volatile_state() {
    let mut c = card();
    for cmd in [SELECT_ECASD, "80CA005A00", "0070000001", "00708001"] {
        send(&mut c, cmd);
    }
    assert!(!c.take_dirty());
    c.state_mut();
    assert!(c.take_dirty());
    assert!(!c.take_dirty());
}

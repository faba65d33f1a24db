//! Every coding of the SGP.02 ES5 functions that the public record does not settle, in one
//! table used by the SM-SR (smsr) and by the eUICC emulator. Each entry gives the value and the
//! reasoning for it; the sources are those of `shared/protocol/SGP02.md` (njiwa and whty
//! SM-SRs, pySim, GP Card Specification v2.3.1, ETSI TS 101 220 / TS 102 226). Entries marked
//! *emulator* are not SGP.02 behaviour but the emulator's way of making it observable over
//! PC/SC.
//!
//! | choice | value |
//! |---|---|
//! | EnableProfile | STORE DATA P1 `88` DGI [`DGI_ENABLE_PROFILE`] `{ 4F AID }` |
//! | DisableProfile | STORE DATA P1 `88` DGI [`DGI_DISABLE_PROFILE`] `{ 4F AID }` |
//! | SetFallbackAttribute | STORE DATA P1 `88` DGI [`DGI_SET_FALLBACK_ATTRIBUTE`] `{ 4F AID }` (assumed) |
//! | HandleNotificationConfirmation | STORE DATA P1 `89` DGI [`DGI_NOTIFICATION_CONFIRMATION`] `{ 4E seq }` → `80 { 4F AID … }` |
//! | reading notifications | GET DATA [`GET_DATA_NOTIFICATION`] (*emulator*) |
//! | notification types | [`NOTIFICATION_EUICC_DECLARATION`] … [`NOTIFICATION_PROFILE_CHANGE_AFTER_FALLBACK`] |
//! | POL1 bits | [`POL1_DISABLE_NOT_ALLOWED`], [`POL1_DELETE_NOT_ALLOWED`], [`POL1_DELETE_WHEN_DISABLED`] |
//! | GET STATUS profile attributes | [`TAG_PROFILE_ATTRIBUTES`]: [`ATTRIBUTE_FALLBACK`], [`ATTRIBUTE_PENDING_RESET`] (*emulator*) |
//! | status words | [`SW_UNKNOWN_ISD_P`], [`SW_AID_PRESENT`], [`SW_WRONG_LOAD_FILE`], [`SW_WRONG_INSTALL_DATA`], [`SW_MEMORY`], [`SW_PROFILE_STATE`], [`SW_FALLBACK`], [`SW_POL1`], [`SW_ES8_STATE`], [`SW_ES8_VERIFICATION`], [`SW_ES8_DATA`] |
//! | when a change takes effect | [`CHANGE_IMMEDIATE_PENDING_RESET`] (*emulator*) |
//! | limits | [`ISD_P_MAX`], [`NOTIFICATION_QUEUE_MAX`] (*emulator*) |

use crate::StatusWord;

/// EnableProfile: `80 E2 88 00 Lc 3A03 L { 4F 10 <ISD-P AID> }`.
/// Reasoning: both njiwa versions send exactly this (SGP.02 v3/v4 §4.1.1.2); no other source.
pub const DGI_ENABLE_PROFILE: u16 = 0x3A03;

/// DisableProfile: `80 E2 88 00 Lc 3A04 L { 4F 10 <ISD-P AID> }`.
/// Reasoning: njiwa ("Sec 4.1.1.2 of SGP 03 v4.2, Table 13").
pub const DGI_DISABLE_PROFILE: u16 = 0x3A04;

/// SetFallbackAttribute: `80 E2 88 00 Lc 3A05 L { 4F 10 <ISD-P AID> }`.
/// Reasoning: no public source names this DGI. `3A03`/`3A04` carry the other ISD-P-targeted
/// life-cycle functions with the same `{ 4F AID }` body, `3A07` and `3A08` are taken, and
/// SetFallbackAttribute is the next ISD-R function in SGP.02's list after Enable/Disable; so the
/// first free number, `3A05`, with the same body. An assumption: calibrate against a real card.
pub const DGI_SET_FALLBACK_ATTRIBUTE: u16 = 0x3A05;

/// HandleNotificationConfirmation: `80 E2 89 00 Lc 3A08 L { 4E 02 <sequence number> }`,
/// answered `80 L { 4F L <ISD-P AID> … }` listing the ISD-Ps the card deleted on this
/// confirmation (POL1 "delete when disabled"), `80 00` when none.
/// Reasoning: njiwa ("Sec 4.1.1.12") builds the command so and parses the answer as the list of
/// deleted profiles. Response data is sent only when P1 b1 asks for it (P1 `89`); with P1 `88`
/// the confirmation is still processed and nothing is returned, as the SM-SR asked for no data
/// (GPCS §11.11.2.1: P1 b1 says whether data may come back).
pub const DGI_NOTIFICATION_CONFIRMATION: u16 = 0x3A08;

/// The tag of the ISD-P AID inside the Enable/Disable/SetFallback DGIs (GP's AID tag).
pub const TAG_AID: u8 = 0x4F;

/// The tag of the sequence number inside [`DGI_NOTIFICATION_CONFIRMATION`] and the
/// notification (ETSI TS 101 220 "sequence number", as njiwa codes both).
pub const TAG_SEQUENCE_NUMBER: u8 = 0x4E;

/// The tag of the confirmation response (list of deleted ISD-P AIDs). Reasoning: njiwa.
pub const TAG_DELETED_ISD_PS: u8 = 0x80;

/// *Emulator*: GET DATA P1 P2 `00E1` on the ISD-R returns the oldest unconfirmed notification
/// `E1 { … }`, `6A88` when none is pending; it needs an SCP03 session with C-MAC (`6982`
/// otherwise), like every other ES5 command.
/// Reasoning: a real eUICC pushes the `E1` notification itself, as a secured SMS (proactive
/// SEND SHORT MESSAGE) or in the body of an SCP81 HTTPS POST (njiwa "Sec 3.15.2"); neither
/// exists over a plain PC/SC link. Asking for the data object by its own tag is the smallest
/// pull mechanism that keeps the notification bytes exactly as SGP.02 §4.1.1.11 codes them, and
/// the SM-SR then confirms with [`DGI_NOTIFICATION_CONFIRMATION`] as it would after an SMS.
pub const GET_DATA_NOTIFICATION: u16 = 0x00E1;

/// The tag of a notification message (njiwa `NotificationMessage`, SGP.02 §4.1.1.11).
pub const TAG_NOTIFICATION: u8 = 0xE1;
/// The tag of the EID in a notification.
pub const TAG_NOTIFICATION_EID: u8 = 0x4C;
/// The tag of the notification type.
pub const TAG_NOTIFICATION_TYPE: u8 = 0x4D;
/// The tag of the ISD-P AID in a notification. Reasoning: notifications use ETSI TS 101 220
/// COMPREHENSION-TLV tags (AID `2F`, or `AF` with the comprehension-required bit); njiwa accepts
/// both and so does [`super::Notification::parse`]; the emulator sends `2F`, as it sends
/// `4C`/`4D`/`4E` without that bit.
pub const TAG_NOTIFICATION_AID: u8 = 0x2F;
/// [`TAG_NOTIFICATION_AID`] with the comprehension-required bit.
pub const TAG_NOTIFICATION_AID_CR: u8 = 0xAF;
/// IMEI in a notification (`14`, or `94` with the comprehension-required bit); read, never sent.
pub const TAG_NOTIFICATION_IMEI: u8 = 0x14;
/// MEID in a notification (`6D`, or `ED`); read, never sent.
pub const TAG_NOTIFICATION_MEID: u8 = 0x6D;

/// Notification type "eUICC declaration" (first network attach).
/// Reasoning: njiwa `NotificationMessage.Type`; the emulator queues it once, when a card is
/// made (or a state file older than version 3 is migrated), since it has no network attach.
pub const NOTIFICATION_EUICC_DECLARATION: u8 = 0x01;
/// Notification type "profile change succeeded": sent after EnableProfile, with the AID of the
/// newly enabled ISD-P. Reasoning: njiwa's EnableProfile transaction completes on type 02.
pub const NOTIFICATION_PROFILE_CHANGE_SUCCEEDED: u8 = 0x02;
/// Notification type "profile change failed and rollback" (njiwa); never sent by the emulator,
/// whose changes cannot fail after `9000`.
pub const NOTIFICATION_PROFILE_CHANGE_FAILED: u8 = 0x03;
/// Notification type "void" (njiwa); never sent by the emulator.
pub const NOTIFICATION_VOID: u8 = 0x04;
/// Notification type "profile change after fallback": sent after DisableProfile, with the AID of
/// the fallback ISD-P that is now enabled. Reasoning: SGP.02 DisableProfile enables the profile
/// with the Fallback Attribute; njiwa's DisableProfile transaction completes on type 05.
pub const NOTIFICATION_PROFILE_CHANGE_AFTER_FALLBACK: u8 = 0x05;

/// POL1 rule "disabling not allowed" (b1 of the POL1 byte). Refuses DisableProfile of this
/// profile and EnableProfile of another while this one is enabled (that would disable it).
/// Reasoning: the POL1 bit coding is not public; the rules are listed in SGP.02 in the order
/// disable / delete / delete-when-disabled, and SGP.22's analogous PPR bits put "disable not
/// allowed" before "delete not allowed". The bits follow that order from b1.
pub const POL1_DISABLE_NOT_ALLOWED: u8 = 0x01;
/// POL1 rule "deletion not allowed" (b2). Refuses DeleteProfile of this profile.
pub const POL1_DELETE_NOT_ALLOWED: u8 = 0x02;
/// POL1 rule "delete when disabled" (b3). When the notification of the change that disabled
/// this profile is confirmed, the card deletes it and lists it in the confirmation response.
/// Reasoning: njiwa reads the deleted profiles from the confirmation response, so the deletion
/// happens at confirmation, after the SM-SR has learnt of the switch.
pub const POL1_DELETE_WHEN_DISABLED: u8 = 0x04;
/// The POL1 bits with a meaning; the others are kept but mean nothing.
pub const POL1_KNOWN: u8 =
    POL1_DISABLE_NOT_ALLOWED | POL1_DELETE_NOT_ALLOWED | POL1_DELETE_WHEN_DISABLED;

/// The tag, in an ISD-P's GET STATUS `E3` entry, of its profile attributes byte.
/// Reasoning: njiwa's AuditEIS ("Sec 4.1.1.5", Table 28) reads a one-byte attribute object
/// `53` after the life cycle with b1 = Fallback Attribute. The emulator appends it after the GP
/// objects so GP parsers keep working (they keep it among the other objects).
pub const TAG_PROFILE_ATTRIBUTES: u8 = 0x53;
/// Profile attributes b1: the Fallback Attribute.
pub const ATTRIBUTE_FALLBACK: u8 = 0x01;
/// *Emulator*: profile attributes b8: a profile change (enable, disable) that a real eUICC
/// would only apply after its REFRESH is pending until the next reset of the emulator.
pub const ATTRIBUTE_PENDING_RESET: u8 = 0x80;

/// *Emulator*: when Enable/Disable take effect.
/// Reasoning: SGP.02 has the ISD-R answer `9000` before the switch, then REFRESH and attach
/// with the new profile, then notify. The emulator has no REFRESH and no network: the registry
/// changes at once (GET STATUS shows the new life cycles, so the SM-SR's audit agrees with the
/// notification), the notification is queued at once, and both ISD-Ps carry a "pending until
/// reset" flag ([`ATTRIBUTE_PENDING_RESET`]) that the next power-on or reset clears, standing
/// for the REFRESH a real card would perform.
pub const CHANGE_IMMEDIATE_PENDING_RESET: () = ();

/// Unknown ISD-P AID (Enable/Disable/SetFallback/Delete), an AID that is not an ISD-P, or an
/// unknown notification sequence number.
/// Reasoning: GP's "referenced data not found", as GP DELETE answers for an unknown AID; njiwa
/// and whty both decode `6A88`. (`6A82` "profile not found" appears in njiwa's map too, but
/// `6A82` is ISO's "file not found".)
pub const SW_UNKNOWN_ISD_P: StatusWord = StatusWord::ReferencedDataNotFound;
/// CreateISDP for an AID already in the registry.
/// Reasoning: GPCS §11.5.3 lists `6A80` for incorrect values in the command data; the AID is
/// such a value, and whty's CreateISDP handler decodes `6A80` as this failure.
pub const SW_AID_PRESENT: StatusWord = StatusWord::IncorrectData;
/// CreateISDP naming another load file or module than the ISD-P ones. Reasoning: GPCS §11.5.3
/// "referenced data not found" for an unknown Executable Load File or Module.
pub const SW_WRONG_LOAD_FILE: StatusWord = StatusWord::ReferencedDataNotFound;
/// CreateISDP with an AID that is not an ISD-P instance AID, privileges other than `80 C0 00`,
/// install parameters other than `C9 { 81 02 03 <i> }` [+ `EF {C7/C8}`], or an install token.
/// Reasoning: GPCS `6A80`, incorrect values in the command data.
pub const SW_WRONG_INSTALL_DATA: StatusWord = StatusWord::IncorrectData;
/// CreateISDP whose memory quota exceeds the free memory, or when the card holds
/// [`ISD_P_MAX`] ISD-Ps. Reasoning: GPCS `6A84` not enough memory (whty decodes it).
pub const SW_MEMORY: StatusWord = StatusWord::NotEnoughMemory;
/// Enable of an ISD-P that is not DISABLED (no profile, or already enabled), Disable of one that
/// is not ENABLED, SetFallbackAttribute on one without a profile, Delete of an enabled one, or
/// of a platform entry (ISD-R, ECASD, ISD-P load file).
/// Reasoning: njiwa/whty "conditions of use not satisfied (profile not in the required state)".
pub const SW_PROFILE_STATE: StatusWord = StatusWord::ConditionsOfUseNotSatisfied;
/// Disable or Delete of the profile with the Fallback Attribute, and Disable when no fallback
/// profile exists to take over. Reasoning: the fallback rule is SGP.02's own, not a POL1 rule,
/// so not `69E1`; njiwa refuses it as "Denied by FallBackAttr", a state condition: `6985`.
pub const SW_FALLBACK: StatusWord = StatusWord::ConditionsOfUseNotSatisfied;
/// A POL1 rule of the profile forbids the action. Reasoning: njiwa's error map, `69E1`.
pub const SW_POL1: StatusWord = StatusWord::Pol1Refused;

/// ES8 key establishment (INSTALL [for personalization] then STORE DATA `3A01`/`3A02`) when
/// the target ISD-P is not SELECTABLE (`07`: keys already established, or a profile in it), when
/// the ECASD holds no key agreement key, or a STORE DATA of the exchange comes out of the
/// `3A01` → `3A02` order or not in DGI format. (Once a refusal ended the exchange, a STORE DATA
/// goes to the ISD-R itself, whose rules answer it.) Reasoning: GPCS `6985` conditions of use not
/// satisfied, a state condition like [`SW_PROFILE_STATE`].
pub const SW_ES8_STATE: StatusWord = StatusWord::ConditionsOfUseNotSatisfied;
/// ES8: CERT.DP.ECDSA does not verify with PK.CI.ECDSA, has the wrong key usage or role, or
/// the `3A02` signature does not verify with PK.DP.ECDSA. Reasoning: GPCS `6982` security
/// status not satisfied, as a failed EXTERNAL AUTHENTICATE is answered; njiwa treats any
/// non-`9000` as a failed key establishment, so the choice does not change a host's outcome.
pub const SW_ES8_VERIFICATION: StatusWord = StatusWord::SecurityStatusNotSatisfied;
/// ES8: a `3A01`/`3A02` data field that does not decode (bad TLV, missing template, a key
/// type other than AES). Reasoning: GPCS `6A80` incorrect values in the command data.
pub const SW_ES8_DATA: StatusWord = StatusWord::IncorrectData;

/// *Emulator*: most ISD-Ps the card holds. Reasoning: none in SGP.02; a bound keeps the state
/// file and the GET STATUS answer small.
pub const ISD_P_MAX: usize = 32;
/// *Emulator*: most unconfirmed notifications kept; when full the oldest is dropped. Reasoning:
/// a real card retries its notifications; the emulator only needs the recent ones and a
/// bounded state file.
pub const NOTIFICATION_QUEUE_MAX: usize = 16;

//! Sans-IO protocol core shared by the `smsr` tool and the `euicc-emulator`.
//!
//! Nothing in this crate performs I/O: every type here turns bytes into values and values into
//! bytes, so the host and the card side run the same code and both can be checked against
//! independent published vectors.
//!
//! - [`apdu`]: ISO/IEC 7816-4 command and response APDUs (cases 1–4, short and extended length,
//!   logical channels in the class byte).
//! - [`status`]: status words with their ISO 7816-4, ETSI TS 102 221 and GlobalPlatform meanings.
//! - [`sgp02`]: SGP.02 ES5 functions of the ISD-R (codings table, STORE DATA DGIs, `E1`
//!   notifications).
//! - [`tlv`]: strict BER-TLV (ISO/IEC 8825-1 as profiled by ISO/IEC 7816-4 §5.2).
//! - [`ecka`]: SGP.02 ES8 EstablishISDPKeySet (ECKA-EG, X9.63 KDF, receipt), host and card.
//! - [`pki`]: SGP.02 `7F21` certificates on NIST P-256, ECDSA, ECDH and a test PKI.
//! - [`saip`]: SAIP (TCA eUICC Profile Package) decoding, encoding, personalization.
//! - [`auth`]: USIM authentication: MILENAGE, the TS 34.108 test algorithm, AUTHENTICATE.
//! - [`scp03t`]: SGP.02 SCP03t, the protected profile download to the ISD-P, host and card.
//! - [`scp81`]: SCP81 (GP Amendment B remote admin over HTTP) for ES5: the session trigger,
//!   the SGP.02 PSK identity, `X-Admin-*` requests and responses, bounded HTTP/1.1 parsing.
//! - [`cat`]: ETSI TS 102 223 toolkit for BIP: proactive commands, terminal responses, events.
//! - [`ota`]: ES5 over the air: ETSI TS 102 226 remote command scripts, ETSI TS 102 225 /
//!   3GPP TS 31.115 secured packets (SCP80) and their SMS-PP carrier.

pub mod apdu;
pub mod atr;
pub mod auth;
pub mod bounded;
pub mod cat;
pub mod ecka;
pub mod gp;
pub mod ota;
pub mod pki;
pub mod saip;
pub mod scp03;
pub mod scp03t;
pub mod scp81;
pub mod sgp02;
pub mod status;
pub mod tlv;

pub use apdu::{ApduError, CommandApdu, ResponseApdu};
pub use status::StatusWord;
pub use tlv::{Tag, Tlv, TlvError};

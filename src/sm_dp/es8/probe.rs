//! `smsr keys establish [--probe]`: ES8.EstablishISDPKeySet on its own, and the calibration of
//! the readings public specifications leave open ([`EckaVariant`], shared/protocol/SGP02.md
//! §3.3–3.4 "Open points").
//!
//! One run is one key establishment with the default reading on an ISD-P (given, or made with
//! ES5.CreateISDP), recorded in the registry as `smsr provision` records it: pending
//! `establish-keys`, then `personalized` when the receipt verified, the pending mark cleared
//! otherwise. With `probe`:
//!
//! - a receipt that does not verify is matched against every
//!   [`EckaVariant::receipt_candidates`]; the reading it matches (or none) is reported. The
//!   receipt settles the receipt input and the receipt key position, and the key count only when
//!   the receipt key comes last ([`smsr_proto::ecka::AwaitingReceipt::identify_variant`]);
//! - a STORE DATA `3A01` that the card refuses with the DGI length coding is sent again with the
//!   BER coding (or the other way round), on a fresh ISD-P: a card that refused the first
//!   personalization may not take a second one on the same ISD-P.
//!
//! The SM-DP keeps an ISD-P key set only for the download that follows it; like `smsr provision`,
//! this module stores no key. An ISD-P left with a key set the SM-DP did not adopt (receipt
//! mismatch) or with none (refused `3A01`) is deleted when this run created it; one named by the
//! user is left alone and reported.

use super::{exchange_keys, Es8Error, KeyExchange, SmDp};
use crate::sm_sr::eis::Eis;
use crate::sm_sr::es5::{self, Es5Error, Es5Link};
use crate::sm_sr::isdp::IsdpState;
use crate::sm_sr::registry::Registry;
use serde::Serialize;
use smsr_proto::ecka::{BlockLength, EckaVariant, KeyCount, ReceiptInput, ReceiptKeyPosition};
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;

/// Which ISD-P receives the key set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An ISD-P in the registry, SELECTABLE on the card.
    Existing(Aid),
    /// A fresh ISD-P made with ES5.CreateISDP.
    Create,
}

/// The names of one reading of the open points, as the report prints them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VariantView {
    /// `three` (Key-ENC, Key-MAC, Key-DEK; `95` = `10`) or `one` (`95` = `5C`).
    pub keys: &'static str,
    /// `crt-dr`, `crt-dr-padded` or `crt-epk-dr`: what the receipt CMAC covers.
    pub receipt_input: &'static str,
    /// `first` or `last`: where the receipt key sits in KeyData.
    pub receipt_key: &'static str,
    /// `dgi` or `ber`: the length coding of DGI `3A01`.
    pub certificate_length: &'static str,
    /// Whether this is [`EckaVariant::default`].
    pub default: bool,
}

impl From<&EckaVariant> for VariantView {
    fn from(v: &EckaVariant) -> Self {
        Self {
            keys: match v.keys {
                KeyCount::Three => "three",
                KeyCount::One => "one",
            },
            receipt_input: match v.receipt_input {
                ReceiptInput::CrtDr => "crt-dr",
                ReceiptInput::CrtDrPadded => "crt-dr-padded",
                ReceiptInput::CrtEpkDr => "crt-epk-dr",
            },
            receipt_key: match v.receipt_key {
                ReceiptKeyPosition::First => "first",
                ReceiptKeyPosition::Last => "last",
            },
            certificate_length: length_name(v.certificate_length),
            default: *v == EckaVariant::default(),
        }
    }
}

fn length_name(l: BlockLength) -> &'static str {
    match l {
        BlockLength::Dgi => "dgi",
        BlockLength::Ber => "ber",
    }
}

/// One reading in words, for messages.
pub fn variant_text(v: &EckaVariant) -> String {
    let view = VariantView::from(v);
    format!(
        "keys {}, receipt input {}, receipt key {}, 3A01 length {}{}",
        view.keys,
        view.receipt_input,
        view.receipt_key,
        view.certificate_length,
        if view.default { " (the default)" } else { "" }
    )
}

/// One key establishment on one ISD-P.
#[derive(Debug, Serialize)]
pub struct Attempt {
    pub isdp: Aid,
    /// Whether this run created the ISD-P.
    pub created: bool,
    /// The `3A01` length coding sent: `dgi` or `ber`.
    pub certificate_length: &'static str,
    /// `established`, `certificate-refused` or `receipt-mismatch`.
    pub outcome: &'static str,
    /// The status word refusing `3A01`.
    pub sw: Option<String>,
    /// With probe: the reading the card's receipt matches (`None`: no candidate does, or the
    /// card sent no receipt).
    pub receipt_matches: Option<VariantView>,
    /// Whether the ISD-P was deleted afterwards (it held no key set the SM-DP knows).
    pub deleted: bool,
}

/// What [`establish`] did.
#[derive(Debug, Serialize)]
pub struct Report {
    pub eid: Eid,
    pub probe: bool,
    /// Whether the last attempt established a key set.
    pub established: bool,
    /// The ISD-P that holds the established key set.
    pub isdp: Option<Aid>,
    /// Its Key Version Number and first key identifier (the keys themselves are not kept).
    pub kvn: Option<u8>,
    pub key_id: Option<u8>,
    pub variant: Option<VariantView>,
    pub attempts: Vec<Attempt>,
    /// What the user should know: retries, ISD-Ps left behind, ambiguities.
    pub notes: Vec<String>,
}

fn create(registry: &mut Registry, link: &mut dyn Es5Link, eid: &Eid) -> Result<Aid, Es8Error> {
    Ok(es5::create_isdp(registry, link, eid, None, None)?.aid)
}

/// Deletes an ISD-P this run created; a failure becomes a note (the registry keeps the ISD-P
/// with its state, and `smsr audit` settles it).
fn discard(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eid: &Eid,
    attempt: &mut Attempt,
    notes: &mut Vec<String>,
) -> Result<(), Es8Error> {
    if !attempt.created {
        notes.push(format!(
            "ISD-P {} holds no key set the SM-DP knows: delete it with `smsr profile delete \
             --eid {eid} --isdp {}`",
            attempt.isdp, attempt.isdp
        ));
        return Ok(());
    }
    let record = registry.isdp(eid, &attempt.isdp).map_err(Es5Error::from)?;
    match es5::delete_isdp(registry, link, eid, &record) {
        Ok(()) => attempt.deleted = true,
        Err(e) => notes.push(format!(
            "ISD-P {} (no usable key set) could not be deleted: {e}; `smsr audit` shows it",
            attempt.isdp
        )),
    }
    Ok(())
}

/// Key establishment on `target` with the default reading, recorded in `registry`; with
/// `probe`, the calibration described in the module documentation.
pub fn establish(
    registry: &mut Registry,
    link: &mut dyn Es5Link,
    eis: &Eis,
    dp: &SmDp,
    target: &Target,
    probe: bool,
) -> Result<Report, Es8Error> {
    let eid = &eis.eid();
    let mut report = Report {
        eid: *eid,
        probe,
        established: false,
        isdp: None,
        kvn: None,
        key_id: None,
        variant: None,
        attempts: Vec::new(),
        notes: Vec::new(),
    };
    let (mut aid, mut created) = match target {
        Target::Existing(aid) => (aid.clone(), false),
        Target::Create => (create(registry, link, eid)?, true),
    };
    let mut variant = EckaVariant::default();
    loop {
        registry
            .begin(eid, &aid, "establish-keys")
            .map_err(Es5Error::from)?;
        let outcome = match exchange_keys(link, eis, dp, &aid, variant) {
            Ok(o) => o,
            Err(e) => {
                registry
                    .abandon(eid, &aid, &e.to_string())
                    .map_err(Es5Error::from)?;
                return Err(e);
            }
        };
        let mut attempt = Attempt {
            isdp: aid.clone(),
            created,
            certificate_length: length_name(variant.certificate_length),
            outcome: "established",
            sw: None,
            receipt_matches: None,
            deleted: false,
        };
        match outcome {
            KeyExchange::Established(keys) => {
                registry
                    .settle(eid, &aid, Some(IsdpState::Personalized), "ok")
                    .map_err(Es5Error::from)?;
                if probe {
                    attempt.receipt_matches = Some(VariantView::from(&keys.variant));
                }
                report.established = true;
                report.isdp = Some(aid);
                report.kvn = Some(keys.keys.kvn());
                report.key_id = Some(keys.key_id);
                report.variant = Some(VariantView::from(&keys.variant));
                report.notes.push(
                    "the key set is not stored: the SM-DP keeps ISD-P keys only for the \
                     download that follows key establishment (smsr provision)"
                        .into(),
                );
                report.attempts.push(attempt);
                return Ok(report);
            }
            KeyExchange::CertificateRefused { sw } => {
                let sw_hex = format!("{:04X}", sw.to_u16());
                registry
                    .abandon(eid, &aid, &format!("3A01 refused with {sw_hex}"))
                    .map_err(Es5Error::from)?;
                attempt.outcome = "certificate-refused";
                attempt.sw = Some(sw_hex.clone());
                discard(registry, link, eid, &mut attempt, &mut report.notes)?;
                report.attempts.push(attempt);
                let first_try =
                    variant.certificate_length == EckaVariant::default().certificate_length;
                if !(probe && first_try) {
                    if !probe {
                        report.notes.push(format!(
                            "the card refused STORE DATA 3A01 with {sw_hex} ({}): --probe \
                             tries the other length coding of the block",
                            sw.meaning()
                        ));
                    }
                    return Ok(report);
                }
                let other = match variant.certificate_length {
                    BlockLength::Dgi => BlockLength::Ber,
                    BlockLength::Ber => BlockLength::Dgi,
                };
                aid = create(registry, link, eid)?;
                created = true;
                report.notes.push(format!(
                    "the card refused STORE DATA 3A01 with the {} length coding ({sw_hex}, {}): \
                     retried with the {} coding on a fresh ISD-P {aid}",
                    length_name(variant.certificate_length).to_uppercase(),
                    sw.meaning(),
                    length_name(other).to_uppercase()
                ));
                variant.certificate_length = other;
            }
            KeyExchange::ReceiptMismatch { identified } => {
                registry
                    .abandon(eid, &aid, "receipt mismatch")
                    .map_err(Es5Error::from)?;
                attempt.outcome = "receipt-mismatch";
                if probe {
                    attempt.receipt_matches = identified.as_ref().map(VariantView::from);
                    report.notes.push(match identified {
                        Some(v) => {
                            let mut n = format!(
                                "the card's receipt matches the reading: {}",
                                variant_text(&v)
                            );
                            if v.receipt_key == ReceiptKeyPosition::First {
                                n.push_str(
                                    "; with the receipt key first the receipt does not settle \
                                     the key count (one or three keys): the first SCP03 \
                                     session with the ISD-P does",
                                );
                            }
                            n
                        }
                        None => "the card's receipt matches none of the readings smsr knows \
                                 (SGP02.md §3.4 open points)"
                            .into(),
                    });
                } else {
                    report.notes.push(
                        "the card's receipt does not verify with the default reading: \
                         --probe tells which reading it matches"
                            .into(),
                    );
                }
                discard(registry, link, eid, &mut attempt, &mut report.notes)?;
                report.attempts.push(attempt);
                return Ok(report);
            }
        }
    }
}

#[cfg(test)]
mod tests;

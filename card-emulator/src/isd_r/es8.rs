//! ES8 EstablishISDPKeySet on the card (SGP.02 §4.1.3.x; GP Amendment E scenario #3;
//! `shared/protocol/SGP02.md` §3): the ISD-R forwards the SM-DP's STORE DATA commands to a
//! new ISD-P named by INSTALL [for personalization], and the ISD-P, with the ECASD's keys,
//! runs [`smsr_proto::ecka::card`].
//!
//! ```text
//! 80 E6 20 00 16 0000 10 <ISD-P AID> 000000      → 00 9000
//! 80 E2 09 00 Lc 3A01 L <CERT.DP.ECDSA 7F21…>    → 85 10 <RC> 9000
//! 80 E2 89 01 Lc 3A02 L <A6…> 7F49 L <ePK> 5F37 40 <sig>
//!                                                → 85 10 <DR> 86 10 <receipt> 9000
//! ```
//!
//! The ISD-P must be SELECTABLE (`07`, just created by CreateISDP); afterwards it holds the
//! derived SCP03 key set and is PERSONALIZED (`0F`), selectable and open to SCP03 sessions
//! with those keys ([`crate::isd_p_sd`]). Status words (one table:
//! [`smsr_proto::sgp02::codings`]):
//!
//! - INSTALL naming no ISD-P: `6A88` ([`SW_UNKNOWN_ISD_P`]); an ISD-P that is not SELECTABLE,
//!   or a card whose ECASD has no key agreement key (made without `--pki`, or migrated from
//!   state file version 3): `6985` ([`SW_ES8_STATE`], with a log line saying why);
//! - STORE DATA out of order (`3A01` as block `00`, then `3A02` as the last block `01`), not in
//!   DGI format, or without P1 b1 (response expected): `6985`, or `6A86` for bad P1;
//! - CERT.DP.ECDSA that does not verify with PK.CI.ECDSA, with another key usage or role, or a
//!   `3A02` signature that does not verify with PK.DP.ECDSA: `6982` ([`SW_ES8_VERIFICATION`]);
//! - a data field that does not decode: `6A80` ([`SW_ES8_DATA`]).
//!
//! Any refusal ends the personalization: the SM-DP starts again with INSTALL. Another command
//! than STORE DATA ends it too, as does the end of the secure channel session.

use crate::card::Nv;
use smsr_proto::ecka::{CardConfig, CertificateAccepted, EckaError, KeySetCard};
use smsr_proto::gp::life_cycle;
use smsr_proto::gp::store_data::DataStructure;
use smsr_proto::gp::{Aid, Install, StoreData};
use smsr_proto::sgp02::codings::{
    SW_ES8_DATA, SW_ES8_STATE, SW_ES8_VERIFICATION, SW_UNKNOWN_ISD_P,
};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// INSTALL P1 of [for personalization] (GPCS §11.5.2.1).
pub const P1_FOR_PERSONALIZATION: u8 = 0x20;

/// A key establishment in progress for one ISD-P.
#[derive(Debug)]
pub(crate) struct Personalization {
    target: Aid,
    step: Step,
}

#[derive(Debug)]
enum Step {
    /// Waiting for `3A01`.
    Certificate(KeySetCard),
    /// Waiting for `3A02`.
    KeyParameters(Box<CertificateAccepted>),
}

/// INSTALL [for personalization]: names the ISD-P the following STORE DATA go to.
pub(super) fn install(
    slot: &mut Option<Personalization>,
    nv: &Nv,
    cmd: &CommandApdu,
) -> ResponseApdu {
    *slot = None;
    match start(nv, cmd) {
        Ok(p) => {
            *slot = Some(p);
            // GPCS §11.5.3.1: `00` when no confirmation is asked for.
            ResponseApdu::success(vec![0x00])
        }
        Err(sw) => ResponseApdu::status(sw),
    }
}

fn start(nv: &Nv, cmd: &CommandApdu) -> Result<Personalization, StatusWord> {
    let Ok(Install::ForPersonalization(target)) = Install::from_apdu(cmd) else {
        return Err(StatusWord::IncorrectData);
    };
    let state = nv.get();
    let (record, _) = state
        .registry()
        .isd_p(target.as_bytes())
        .ok_or(SW_UNKNOWN_ISD_P)?;
    if record.life_cycle != life_cycle::SELECTABLE {
        tracing::info!(
            "ES8: ISD-P {target} is in life cycle {:02X}, not SELECTABLE (07): key establishment refused",
            record.life_cycle
        );
        return Err(SW_ES8_STATE);
    }
    let Some(ecasd) = state.ecasd_keys() else {
        tracing::warn!(
            "ES8: the ECASD holds no key agreement key (card made without --pki, or state \
             file migrated from version 3): key establishment for {target} refused with 6985"
        );
        return Err(SW_ES8_STATE);
    };
    let card = KeySetCard::new(ecasd.ci, ecasd.key.clone(), CardConfig::default());
    Ok(Personalization {
        target,
        step: Step::Certificate(card),
    })
}

/// STORE DATA while a personalization is in progress.
pub(super) fn store_data(
    slot: &mut Option<Personalization>,
    nv: &mut Nv,
    cmd: &CommandApdu,
) -> ResponseApdu {
    let Some(p) = slot.take() else {
        return ResponseApdu::status(SW_ES8_STATE);
    };
    match step(p, nv, cmd) {
        Ok((next, data)) => {
            *slot = next;
            ResponseApdu::success(data)
        }
        Err(sw) => ResponseApdu::status(sw),
    }
}

type Outcome = Result<(Option<Personalization>, Vec<u8>), StatusWord>;

fn step(p: Personalization, nv: &mut Nv, cmd: &CommandApdu) -> Outcome {
    let block = StoreData::from_apdu(cmd).map_err(|_| StatusWord::IncorrectP1P2)?;
    if !block.response_expected {
        return Err(StatusWord::IncorrectP1P2);
    }
    if block.structure != DataStructure::Dgi {
        return Err(SW_ES8_STATE);
    }
    let target = p.target;
    match (p.step, block.block, block.last) {
        (Step::Certificate(card), 0, false) => {
            let (accepted, response) = card
                .receive_certificate(&block.data)
                .map_err(|e| refusal(&target, "3A01", &e))?;
            Ok((
                Some(Personalization {
                    target,
                    step: Step::KeyParameters(Box::new(accepted)),
                }),
                response,
            ))
        }
        (Step::KeyParameters(accepted), 1, true) => {
            let (keys, response) = accepted
                .receive_key_parameters(&block.data)
                .map_err(|e| refusal(&target, "3A02", &e))?;
            nv.get_mut()
                .personalize_isd_p(target.as_bytes(), keys.keys)?;
            tracing::info!("ES8: ISD-P {target} has its key set and is PERSONALIZED (0F)");
            Ok((None, response))
        }
        _ => Err(SW_ES8_STATE),
    }
}

/// The status word of a refused `3A01`/`3A02`.
fn refusal(target: &Aid, dgi: &str, e: &EckaError) -> StatusWord {
    tracing::info!("ES8: {dgi} for ISD-P {target} refused: {e}");
    match e {
        EckaError::CertificateRejected(_)
        | EckaError::WrongEntity { .. }
        | EckaError::SignatureInvalid => SW_ES8_VERIFICATION,
        EckaError::Random => StatusWord::NoPreciseDiagnosis,
        _ => SW_ES8_DATA,
    }
}

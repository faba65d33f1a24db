//! Reaching a card's ISD-R: read the EID the card reports (SGP.02 §2.2.2: GET DATA `5A` on the
//! ECASD), check it is the card the EIS names, and open the ES5 link of the kind asked for.
//! The command line and the SM-SR service open every link here.

use super::eis::Eis;
use super::es5::scp80::Scp80Link;
use super::es5::scp81::{Scp81Link, CUT_VARIABLE};
use super::es5::{Es5Error, Es5Link, Scp03Link};
use super::registry::RegistryPool;
use crate::hexfmt;
use crate::transport::Transport;
use smsr_proto::gp::aid::{Aid, ECASD};
use smsr_proto::gp::get_data::{tags, DataObject, Eid, GetData};
use smsr_proto::gp::select::Select;
use smsr_proto::StatusWord;
use std::sync::Arc;

/// How ES5 commands reach the ISD-R.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkKind {
    /// ETSI TS 102 225 secured packets in SMS-PP download ENVELOPEs.
    Scp80,
    /// An SCP03 session on the ISD-R with the EIS's keys (test cards, the emulator).
    Scp03,
    /// GP Amendment B over PSK-TLS through the card's BIP channel, woken by an SCP80 trigger.
    Scp81,
}

fn input(e: impl std::fmt::Display) -> Es5Error {
    Es5Error::Input(e.to_string())
}

/// Reads the EID: SELECT ECASD, then GET DATA `00 CA 00 5A 00` (ISO class, as pySim's SGP.02
/// probe sends it), retried with the GlobalPlatform class `80` when the card refuses the class
/// or instruction. The one place that reads the EID.
pub fn read_eid(card: &mut dyn Transport) -> Result<Eid, Es5Error> {
    let select = Select::by_aid(Aid::new(&ECASD).map_err(input)?)
        .to_apdu()
        .map_err(input)?;
    let sw = card.send(&select)?.sw;
    if !sw.is_success() {
        return Err(Es5Error::Refused {
            what: "SELECT ECASD (to read the EID; is this an eUICC?)".into(),
            sw,
            hint: String::new(),
        });
    }
    let mut r = card.send(&GetData::iso(tags::EID).to_apdu().map_err(input)?)?;
    if matches!(
        r.sw,
        StatusWord::ClaNotSupported | StatusWord::InsNotSupported
    ) {
        r = card.send(&GetData::new(tags::EID).to_apdu().map_err(input)?)?;
    }
    if !r.sw.is_success() {
        return Err(Es5Error::Refused {
            what: "GET DATA 5A (EID) on the ECASD".into(),
            sw: r.sw,
            hint: String::new(),
        });
    }
    Eid::parse(&r.data).map_err(|e| {
        Es5Error::BadResponse(format!(
            "the ECASD answered GET DATA 5A with {} which is not an EID TLV (5A 10 <16 bytes>): {e}",
            hexfmt::upper(&r.data)
        ))
    })
}

/// Checks that `card` reports the EID of `eis`, then opens the ES5 link `kind` on it. The SCP80
/// link keeps its counters in a registry of `registry`.
pub fn open(
    mut card: Box<dyn Transport>,
    eis: &Eis,
    kind: LinkKind,
    registry: &Arc<RegistryPool>,
) -> Result<Box<dyn Es5Link>, Es5Error> {
    check_eid(card.as_mut(), eis)?;
    Ok(match kind {
        LinkKind::Scp03 => Box::new(Scp03Link::new(card, eis)?),
        LinkKind::Scp80 => Box::new(Scp80Link::new(card, eis, registry)?),
        LinkKind::Scp81 => Box::new(scp81(card, eis, registry)?),
    })
}

/// [`open`] for a card that can move between threads: the link can too, so a service can keep
/// an ES5 session open from one operation to the next (SGP.02 `moreToDo`).
pub fn open_send(
    mut card: Box<dyn Transport + Send>,
    eis: &Eis,
    kind: LinkKind,
    registry: &Arc<RegistryPool>,
) -> Result<Box<dyn Es5Link + Send>, Es5Error> {
    check_eid(card.as_mut(), eis)?;
    Ok(match kind {
        LinkKind::Scp03 => Box::new(Scp03Link::new(card, eis)?),
        LinkKind::Scp80 => Box::new(Scp80Link::new(card, eis, registry)?),
        LinkKind::Scp81 => Box::new(scp81(card, eis, registry)?),
    })
}

/// An SCP81 link, cutting its TCP connection where [`CUT_VARIABLE`] says (the fault campaign).
fn scp81<T: Transport>(
    card: T,
    eis: &Eis,
    registry: &Arc<RegistryPool>,
) -> Result<Scp81Link<T>, Es5Error> {
    let link = Scp81Link::new(card, eis, registry)?;
    Ok(
        match std::env::var(CUT_VARIABLE).ok().map(|v| v.parse::<usize>()) {
            Some(Ok(n)) => link.cutting_after(n),
            Some(Err(_)) => {
                return Err(Es5Error::Input(format!(
                    "{CUT_VARIABLE}: the number of POSTs after which the TCP connection is cut"
                )))
            }
            None => link,
        },
    )
}

fn check_eid(card: &mut dyn Transport, eis: &Eis) -> Result<(), Es5Error> {
    let on_card = read_eid(card)?;
    if on_card != eis.eid() {
        return Err(Es5Error::Input(format!(
            "the card in {} has EID {on_card}, not {}: choose the reader with --reader, or \
             give --eid {on_card}",
            card.reader_name(),
            eis.eid
        )));
    }
    Ok(())
}

//! `smsr info`: the ATR, the EID (GET DATA `5A` on the ECASD, SGP.02 §2.2.2),
//! and which of the ISD-R and ECASD answer SELECT.

use super::{open_card, print_json, sw_hex, CliError};
use crate::cli::GlobalArgs;
use crate::hexfmt;
use crate::transport::Transport;
use serde::Serialize;
use smsr_proto::gp::aid::{Aid, ECASD, ISD_R};
use smsr_proto::gp::get_data::{DataObject, Eid};
use smsr_proto::gp::select::Select;
use smsr_proto::StatusWord;

/// Whether one application answered SELECT.
#[derive(Debug, Serialize)]
pub struct AppStatus {
    pub name: &'static str,
    pub aid: String,
    pub selectable: bool,
    pub sw: String,
}

/// What `smsr info` reports.
#[derive(Debug, Serialize)]
pub struct CardInfo {
    pub reader: String,
    #[serde(serialize_with = "crate::hexfmt::serialize")]
    pub atr: Vec<u8>,
    /// The EID as 32 digits, when the ECASD gave one.
    pub eid: Option<String>,
    pub applications: Vec<AppStatus>,
}

/// Selects an application by AID; returns the status word.
pub fn select(card: &mut dyn Transport, aid: &[u8]) -> Result<StatusWord, CliError> {
    let aid = Aid::new(aid).map_err(|e| CliError::Input(e.to_string()))?;
    let cmd = Select::by_aid(aid)
        .to_apdu()
        .map_err(|e| CliError::Input(e.to_string()))?;
    Ok(card.send(&cmd)?.sw)
}

/// Reads the EID ([`crate::sm_sr::link::read_eid`]).
pub fn read_eid(card: &mut dyn Transport) -> Result<Eid, CliError> {
    Ok(crate::sm_sr::link::read_eid(card)?)
}

/// Collects [`CardInfo`] from an open card.
pub fn collect(card: &mut dyn Transport) -> Result<CardInfo, CliError> {
    let mut applications = Vec::new();
    for (name, aid) in [("ISD-R", &ISD_R[..]), ("ECASD", &ECASD[..])] {
        let sw = select(card, aid)?;
        applications.push(AppStatus {
            name,
            aid: hexfmt::upper(aid),
            selectable: sw.is_success(),
            sw: sw_hex(sw),
        });
    }
    let eid = if applications
        .iter()
        .any(|a| a.name == "ECASD" && a.selectable)
    {
        match read_eid(card) {
            Ok(eid) => Some(hexfmt::upper(&eid.value())),
            Err(CliError::Transport(e)) => return Err(e.into()),
            Err(e) => {
                eprintln!("smsr: warning: {e}");
                None
            }
        }
    } else {
        None
    };
    Ok(CardInfo {
        reader: card.reader_name(),
        atr: card.atr(),
        eid,
        applications,
    })
}

pub fn run(g: &GlobalArgs) -> Result<(), CliError> {
    let mut card = open_card(g)?;
    let info = collect(card.as_mut())?;
    if g.json {
        print_json(&info);
    } else {
        println!("reader  {}", info.reader);
        println!("ATR     {}", hexfmt::upper(&info.atr));
        println!(
            "EID     {}",
            info.eid
                .as_deref()
                .unwrap_or("(none: the ECASD did not give one)")
        );
        for a in &info.applications {
            let verdict = if a.selectable {
                "selectable".to_owned()
            } else {
                format!("not selectable ({})", a.sw)
            };
            println!("{:<7} {}  {verdict}", a.name, a.aid);
        }
    }
    if info.eid.is_none() && !info.applications.iter().any(|a| a.selectable) {
        return Err(CliError::Failed(
            "the card answers neither as ISD-R nor as ECASD: it is not an SGP.02 eUICC (or \
             its applications are not selectable from the basic channel)"
                .into(),
        ));
    }
    Ok(())
}

//! The sending entity end to end: a command script secured with SCP80 and cut into SMS-PP
//! download ENVELOPEs, and the PoR opened back into a response script.

use super::scp80::{CommandHeader, CommandPacket, KeySet, PorStatus, ResponsePacket};
use super::script::{CommandScript, ResponseScript};
use super::sms::{command_packet_messages, sms_pp_download, Address};
use super::OtaError;
use crate::apdu::CommandApdu;

/// SMS parameters of the messages the SM-SR sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsParameters {
    /// TP-OA: the SM-SR's address.
    pub originator: Address,
    /// The service centre address for the ENVELOPE's Address TLV, if any.
    pub service_centre: Option<Address>,
    /// TP-SCTS.
    pub scts: [u8; 7],
    /// Concatenation reference (8-bit).
    pub reference: u8,
}

impl Default for SmsParameters {
    fn default() -> Self {
        Self {
            originator: Address::international("0"),
            service_centre: None,
            scts: [0; 7],
            reference: 0,
        }
    }
}

/// The ENVELOPEs that deliver `script` to the application `header.tar` names.
pub fn script_envelopes(
    script: &CommandScript,
    header: &CommandHeader,
    keysets: &[KeySet],
    sms: &SmsParameters,
) -> Result<Vec<CommandApdu>, OtaError> {
    data_envelopes(&script.to_bytes()?, header, keysets, sms)
}

/// The SMS-PP download ENVELOPEs carrying `data` (any secured data: a script, or the HTTPS
/// administration session triggering parameters of GP Amendment B) in one secured packet.
pub fn data_envelopes(
    data: &[u8],
    header: &CommandHeader,
    keysets: &[KeySet],
    sms: &SmsParameters,
) -> Result<Vec<CommandApdu>, OtaError> {
    let packet = CommandPacket::encode(header, keysets, data)?;
    command_packet_messages(&packet, &sms.originator, sms.scts, sms.reference)?
        .iter()
        .map(|m| sms_pp_download(m, sms.service_centre.as_ref()).map_err(OtaError::from))
        .collect()
}

/// Opens a PoR (user data `02 71 00 …`) answering `header`; when its status is OK and it carries
/// data, that data is read as a response script.
pub fn open_por(
    ud: &[u8],
    header: &CommandHeader,
    keysets: &[KeySet],
) -> Result<(ResponsePacket, Option<ResponseScript>), OtaError> {
    let por = ResponsePacket::decode(ud, header, keysets)?;
    let script = if por.status == PorStatus::Ok && !por.data.is_empty() {
        Some(ResponseScript::parse(&por.data)?)
    } else {
        None
    };
    Ok((por, script))
}

//! GlobalPlatform card management run over any command channel (a secure channel session, an
//! ES5 link): the registry read with GET STATUS, following its paging and format fallbacks.
//! The one place that walks GET STATUS for `smsr gp list` and the SM-SR's ISD-P audit.

use smsr_proto::gp::get_status::{GetStatus, RegistryEntry, StatusScope};
use smsr_proto::{CommandApdu, ResponseApdu, StatusWord};

/// Most GET STATUS rounds for one scope (a card that keeps answering `6310` is broken).
const MAX_ROUNDS: usize = 64;

/// Why GET STATUS did not give the registry.
#[derive(Debug, thiserror::Error)]
pub enum StatusError<E> {
    /// The link failed.
    #[error(transparent)]
    Link(E),
    /// The card refused with this status word.
    #[error("GET STATUS refused with {sw:04X} ({meaning})", sw = .0.to_u16(), meaning = .0.meaning())]
    Refused(StatusWord),
    /// The card's answer is not a registry listing.
    #[error("GET STATUS: {0}")]
    BadResponse(String),
}

/// Every registry entry in `scope`: GET STATUS in the `E3` format (P2 `02`), falling back to
/// the legacy format (P2 `00`) when the card refuses the first request with `6A86`, and asking
/// for the next occurrences while the card answers `6310`. `6A88` (no entry) is an empty list.
pub fn get_status_all<E>(
    scope: StatusScope,
    mut send: impl FnMut(&CommandApdu) -> Result<ResponseApdu, E>,
) -> Result<Vec<RegistryEntry>, StatusError<E>> {
    let mut out = Vec::new();
    let mut request = Some(GetStatus::new(scope));
    let mut rounds = 0;
    while let Some(get) = request.take() {
        rounds += 1;
        if rounds > MAX_ROUNDS {
            return Err(StatusError::BadResponse(format!(
                "the card answered 6310 (more data) {MAX_ROUNDS} times in a row"
            )));
        }
        let apdu = get
            .to_apdu()
            .map_err(|e| StatusError::BadResponse(e.to_string()))?;
        let r = send(&apdu).map_err(StatusError::Link)?;
        if let Some(next) = get.follow_up(r.sw) {
            if r.sw == StatusWord::MoreDataAvailable {
                out.extend(
                    get.parse_response(&r.data)
                        .map_err(|e| StatusError::BadResponse(e.to_string()))?,
                );
            }
            request = Some(next);
            continue;
        }
        if r.sw == StatusWord::ReferencedDataNotFound && !get.next {
            return Ok(out);
        }
        if !r.sw.is_success() {
            return Err(StatusError::Refused(r.sw));
        }
        out.extend(
            get.parse_response(&r.data)
                .map_err(|e| StatusError::BadResponse(e.to_string()))?,
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::gp::aid::Aid;

    fn entry(n: u16) -> RegistryEntry {
        RegistryEntry::new(Aid::isd_p(n).unwrap(), 0x07, None)
    }

    #[test]
    fn pages_and_legacy_fallback() {
        // First request in E3 format refused with 6A86, then two legacy pages.
        let mut sent = Vec::new();
        let list = get_status_all::<()>(StatusScope::Applications, |c| {
            sent.push(c.p2);
            Ok(match sent.len() {
                1 => ResponseApdu::new(vec![], StatusWord::IncorrectP1P2),
                2 => ResponseApdu::new(entry(0x10).to_legacy(false), StatusWord::MoreDataAvailable),
                _ => ResponseApdu::new(entry(0x11).to_legacy(false), StatusWord::Success),
            })
        })
        .unwrap();
        assert_eq!(sent, [0x02, 0x00, 0x01]);
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].aid, Aid::isd_p(0x11).unwrap());
    }

    #[test]
    fn empty_refused_and_endless() {
        let none = get_status_all::<()>(StatusScope::LoadFiles, |_| {
            Ok(ResponseApdu::new(
                vec![],
                StatusWord::ReferencedDataNotFound,
            ))
        })
        .unwrap();
        assert!(none.is_empty());
        let refused = get_status_all::<()>(StatusScope::LoadFiles, |_| {
            Ok(ResponseApdu::new(
                vec![],
                StatusWord::SecurityStatusNotSatisfied,
            ))
        });
        assert!(matches!(
            refused,
            Err(StatusError::Refused(StatusWord::SecurityStatusNotSatisfied))
        ));
        let endless = get_status_all::<()>(StatusScope::Applications, |_| {
            Ok(ResponseApdu::new(
                entry(0x10).to_tlv(),
                StatusWord::MoreDataAvailable,
            ))
        });
        assert!(matches!(endless, Err(StatusError::BadResponse(_))));
    }
}

//! Readers as PC/SC lists them, and the choice of one from a `--reader` selector.
//!
//! A selector is tried, in order, as an exact reader name, as an index into the list (`0`,
//! `1`, …), and as a case-insensitive substring that must match exactly one reader. Without a
//! selector the first reader holding a card is taken.

use super::TransportError;
use serde::Serialize;

/// One reader and what is in it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReaderInfo {
    /// The name PC/SC gives the reader.
    pub name: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The card's ATR, when a card is present.
    #[serde(serialize_with = "crate::hexfmt::serialize_opt")]
    pub atr: Option<Vec<u8>>,
    /// Another program holds the card exclusively.
    pub exclusive: bool,
    /// Some program has the card open.
    pub in_use: bool,
    /// The card does not answer to reset.
    pub mute: bool,
}

impl ReaderInfo {
    /// A reader with a card of this ATR, not in use.
    pub fn with_card(name: impl Into<String>, atr: Vec<u8>) -> Self {
        Self {
            name: name.into(),
            card_present: true,
            atr: Some(atr),
            exclusive: false,
            in_use: false,
            mute: false,
        }
    }

    /// An empty reader.
    pub fn empty(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            card_present: false,
            atr: None,
            exclusive: false,
            in_use: false,
            mute: false,
        }
    }
}

/// Picks the reader named by `selector` (see the module documentation).
pub fn select_reader<'a>(
    selector: Option<&str>,
    readers: &'a [ReaderInfo],
) -> Result<&'a ReaderInfo, TransportError> {
    if readers.is_empty() {
        return Err(TransportError::NoReaders);
    }
    let names = || readers.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return readers
            .iter()
            .find(|r| r.card_present)
            .ok_or_else(|| TransportError::NoCardInAnyReader { readers: names() });
    };
    if let Some(exact) = readers.iter().find(|r| r.name == selector) {
        return Ok(exact);
    }
    if !selector.is_empty() && selector.bytes().all(|b| b.is_ascii_digit()) {
        return selector
            .parse::<usize>()
            .ok()
            .and_then(|i| readers.get(i))
            .ok_or_else(|| TransportError::ReaderNotFound {
                selector: selector.to_owned(),
                readers: names(),
            });
    }
    let needle = selector.to_lowercase();
    let matches: Vec<&ReaderInfo> = readers
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&needle))
        .collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(TransportError::ReaderNotFound {
            selector: selector.to_owned(),
            readers: names(),
        }),
        many => Err(TransportError::AmbiguousReader {
            selector: selector.to_owned(),
            matches: many.iter().map(|r| r.name.clone()).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn readers() -> Vec<ReaderInfo> {
        vec![
            ReaderInfo::empty("Virtual PCD 00 00"),
            ReaderInfo::with_card("Virtual PCD 00 01", vec![0x3B, 0x80, 0x80, 0x01, 0x01]),
            ReaderInfo::with_card("Yubico YubiKey OTP+FIDO+CCID 01 00", vec![0x3B, 0xFD]),
        ]
    }

    fn pick(selector: Option<&str>) -> Result<String, TransportError> {
        select_reader(selector, &readers()).map(|r| r.name.clone())
    }

    #[test]
    fn selectors() {
        let table: &[(Option<&str>, Result<&str, &str>)] = &[
            (None, Ok("Virtual PCD 00 01")),
            (Some(""), Ok("Virtual PCD 00 01")),
            (Some("Virtual PCD 00 00"), Ok("Virtual PCD 00 00")),
            (Some("0"), Ok("Virtual PCD 00 00")),
            (Some("2"), Ok("Yubico YubiKey OTP+FIDO+CCID 01 00")),
            (Some("3"), Err("not found")),
            (Some("yubikey"), Ok("Yubico YubiKey OTP+FIDO+CCID 01 00")),
            (Some("00 01"), Ok("Virtual PCD 00 01")),
            (Some("virtual"), Err("ambiguous")),
            (Some("gemalto"), Err("not found")),
        ];
        for (selector, expected) in table {
            let got = pick(*selector);
            match (expected, &got) {
                (Ok(name), Ok(g)) => assert_eq!(g, name, "{selector:?}"),
                (Err("not found"), Err(TransportError::ReaderNotFound { readers, .. })) => {
                    assert_eq!(readers.len(), 3, "{selector:?}");
                }
                (Err("ambiguous"), Err(TransportError::AmbiguousReader { matches, .. })) => {
                    assert_eq!(matches, &["Virtual PCD 00 00", "Virtual PCD 00 01"]);
                }
                _ => panic!("{selector:?}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn no_readers_or_no_card() {
        assert!(matches!(
            select_reader(None, &[]),
            Err(TransportError::NoReaders)
        ));
        assert!(matches!(
            select_reader(Some("0"), &[]),
            Err(TransportError::NoReaders)
        ));
        let empty = [ReaderInfo::empty("A"), ReaderInfo::empty("B")];
        match select_reader(None, &empty) {
            Err(TransportError::NoCardInAnyReader { readers }) => assert_eq!(readers, ["A", "B"]),
            other => panic!("{other:?}"),
        }
        // An explicit choice of an empty reader is returned; connecting says "no card".
        assert_eq!(select_reader(Some("b"), &empty).unwrap().name, "B");
    }
}

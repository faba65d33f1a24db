//! Hexadecimal text: upper-case output for traces and JSON, lenient input for the command
//! line and foreign traces (either case; spaces, tabs and colons between digits ignored).

use serde::Serializer;

/// Upper-case hex of `bytes`.
pub fn upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

/// Why text is not hex.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("{0:?} is not hexadecimal: character {1:?} is not a hex digit")]
    BadDigit(String, char),
    #[error("{0:?} has an odd number of hex digits")]
    OddLength(String),
}

/// Decodes hex digits, ignoring whitespace and `:` separators.
pub fn parse(text: &str) -> Result<Vec<u8>, HexError> {
    let digits: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect();
    if let Some(bad) = digits.chars().find(|c| !c.is_ascii_hexdigit()) {
        return Err(HexError::BadDigit(text.to_owned(), bad));
    }
    hex::decode(&digits).map_err(|_| HexError::OddLength(text.to_owned()))
}

/// Serde: bytes as upper-case hex.
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&upper(bytes))
}

/// Serde: optional bytes as upper-case hex or `null`.
pub fn serialize_opt<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(b) => s.serialize_str(&upper(b)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_input() {
        assert_eq!(parse("00a4 04:00").unwrap(), [0x00, 0xA4, 0x04, 0x00]);
        assert_eq!(parse("").unwrap(), Vec::<u8>::new());
        assert_eq!(parse("0G"), Err(HexError::BadDigit("0G".into(), 'G')));
        assert_eq!(parse("ABC"), Err(HexError::OddLength("ABC".into())));
        assert_eq!(upper(&[0x5a, 0x0f]), "5A0F");
    }
}

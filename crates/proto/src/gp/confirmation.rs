//! The response data of INSTALL, LOAD and DELETE (GPCS v2.3.1 Tables 11-25, 11-54, 11-59):
//! a BER length (`00`–`7F` or `81 80`–`81 FF`) and a confirmation, which is empty (the single
//! byte `00`) unless a Security Domain with Delegated Management returns one (§11.1.6, Tables
//! 11-13 and 11-14).

use super::codec::{push_ber_lv, Reader};
use super::GpError;

/// The response data of a card content management command.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfirmationResponse {
    /// The confirmation bytes; empty for the usual `00` answer.
    pub confirmation: Vec<u8>,
}

impl ConfirmationResponse {
    /// The plain answer, `00`.
    pub fn none() -> Self {
        Self::default()
    }

    /// Decodes the response data. No data at all is accepted as no confirmation (some cards
    /// answer `9000` alone).
    pub fn parse(data: &[u8]) -> Result<Self, GpError> {
        if data.is_empty() {
            return Ok(Self::none());
        }
        let mut r = Reader::new(data, 0);
        let at = r.offset();
        let confirmation = r.ber_lv("confirmation")?.to_vec();
        if confirmation.len() > 0xFF {
            return Err(GpError::invalid(
                at,
                None,
                "confirmation longer than 255 bytes",
            ));
        }
        r.finish()?;
        Ok(Self { confirmation })
    }

    /// `00`, or the length and the confirmation.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        push_ber_lv(&mut out, &self.confirmation);
        out
    }

    /// The confirmation decoded, if there is one.
    pub fn decode(&self) -> Result<Option<Confirmation>, GpError> {
        if self.confirmation.is_empty() {
            return Ok(None);
        }
        Confirmation::decode(&self.confirmation).map(Some)
    }
}

/// A Delegated Management confirmation (Tables 11-13, 11-14).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confirmation {
    pub receipt: Vec<u8>,
    pub confirmation_counter: u16,
    /// The confirming Security Domain's `42` and `45` values, concatenated.
    pub sd_unique_data: Vec<u8>,
    pub token_identifier: Option<Vec<u8>>,
    pub token_data_digest: Option<Vec<u8>>,
}

impl Confirmation {
    fn decode(bytes: &[u8]) -> Result<Self, GpError> {
        // The confirmation sits after the response's length byte(s).
        let base = if bytes.len() < 0x80 { 1 } else { 2 };
        let mut r = Reader::new(bytes, base);
        let receipt = r.ber_lv("receipt")?.to_vec();
        let at = r.offset();
        let counter = r.lv("confirmation counter")?;
        let confirmation_counter = match counter {
            [a, b] => u16::from_be_bytes([*a, *b]),
            _ => {
                return Err(GpError::invalid(
                    at,
                    None,
                    "confirmation counter is 2 bytes",
                ))
            }
        };
        let sd_unique_data = r.lv("SD unique data")?.to_vec();
        let token_identifier = (!r.is_empty())
            .then(|| r.lv("token identifier").map(<[u8]>::to_vec))
            .transpose()?;
        let token_data_digest = (!r.is_empty())
            .then(|| r.lv("token data digest").map(<[u8]>::to_vec))
            .transpose()?;
        r.finish()?;
        Ok(Self {
            receipt,
            confirmation_counter,
            sd_unique_data,
            token_identifier,
            token_data_digest,
        })
    }

    /// The encoded confirmation (to put in a [`ConfirmationResponse`]); a token data digest is
    /// only encoded after a token identifier (use an empty identifier if needed).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        push_ber_lv(&mut out, &self.receipt);
        out.push(2);
        out.extend(self.confirmation_counter.to_be_bytes());
        push_short(&mut out, &self.sd_unique_data);
        let digest = self.token_data_digest.as_ref();
        if self.token_identifier.is_some() || digest.is_some() {
            push_short(
                &mut out,
                self.token_identifier.as_deref().unwrap_or_default(),
            );
        }
        if let Some(d) = digest {
            push_short(&mut out, d);
        }
        out
    }
}

fn push_short(out: &mut Vec<u8>, value: &[u8]) {
    let value = &value[..value.len().min(255)];
    out.push(u8::try_from(value.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gp::testdata::h;

    #[test]
    fn plain_and_confirmed() {
        assert_eq!(ConfirmationResponse::none().to_bytes(), vec![0]);
        assert_eq!(
            ConfirmationResponse::parse(&[0]).unwrap(),
            ConfirmationResponse::none()
        );
        assert_eq!(
            ConfirmationResponse::parse(&[]).unwrap(),
            ConfirmationResponse::none()
        );
        assert_eq!(ConfirmationResponse::none().decode().unwrap(), None);

        let c = Confirmation {
            receipt: h("0102030405060708"),
            confirmation_counter: 7,
            sd_unique_data: h("4201AA4502BBCC"),
            token_identifier: Some(h("01")),
            token_data_digest: None,
        };
        let rsp = ConfirmationResponse {
            confirmation: c.to_bytes(),
        };
        let bytes = rsp.to_bytes();
        assert_eq!(
            bytes,
            h("16 08 0102030405060708 02 0007 07 4201AA4502BBCC 01 01")
        );
        let back = ConfirmationResponse::parse(&bytes).unwrap();
        assert_eq!(back.decode().unwrap(), Some(c));
    }

    #[test]
    fn strictness() {
        assert!(ConfirmationResponse::parse(&h("0201")).is_err());
        assert!(matches!(
            ConfirmationResponse::parse(&h("0000")),
            Err(GpError::TrailingBytes {
                offset: 1,
                count: 1
            })
        ));
        assert!(ConfirmationResponse::parse(&h("817F")).is_err());
        // Confirmation counter of one byte.
        let bad = ConfirmationResponse {
            confirmation: h("00 01 07 01 AA"),
        };
        assert!(matches!(
            bad.decode(),
            Err(GpError::Invalid { offset: 2, .. })
        ));
    }
}

//! The data fields of the two ES8 EstablishISDPKeySet STORE DATA commands and their responses
//! (SGP.02 §4.1.3.x / Table 81 as cited by njiwa; shared/protocol/SGP02.md §3.1, §3.3).
//!
//! ```text
//! block 0, P1 09:  3A01 L <7F21 CERT.DP.ECDSA>               → 85 L <RC>
//! block 1, P1 89:  3A02 L <A6 CRT> ‖ 7F49 L <ePK.DP.ECKA> ‖ 5F37 40 <r‖s>
//!                                                            → 85 L <DR> ‖ 86 10 <receipt>
//! signature input: 3A02 L <A6 CRT> ‖ 7F49 L <ePK.DP.ECKA> ‖ 00 85 L <RC>
//! ```
//!
//! `3A01`/`3A02` are DGIs: a 2-byte tag whose length is coded DGI-style or, by some servers,
//! BER-style ([`BlockLength`]). The card side accepts whichever reading yields exactly the
//! expected content.

use super::crt::ControlReferenceTemplate;
use super::variant::BlockLength;
use super::EckaError;
use crate::gp::store_data::encode_dgi_length;
use crate::pki::cert::TAG_SIGNATURE;
use crate::pki::keys::TAG_PUBLIC_KEY;
use crate::pki::{Certificate, EcdsaSignature, PrivateKey, PublicKey};
use crate::tlv::{encode_length, tlv, Tag, Tlv};

/// DGI of CERT.DP.ECDSA (or CERT.SR.ECDSA).
pub const DGI_CERTIFICATE: u16 = 0x3A01;
/// DGI of the key establishment template.
pub const DGI_KEY_ESTABLISHMENT: u16 = 0x3A02;
/// Tag of the random challenge RC and of the derivation random DR in responses.
pub const TAG_RANDOM: u8 = 0x85;
/// Tag of the receipt.
pub const TAG_RECEIPT: u8 = 0x86;
/// Longest RC or DR accepted (one-byte BER length in the signature input).
pub const MAX_RANDOM_LEN: usize = 127;

/// `tag` ‖ length ‖ `value` with the given length coding.
pub fn encode_block(tag: u16, value: &[u8], form: BlockLength) -> Result<Vec<u8>, EckaError> {
    let mut out = tag.to_be_bytes().to_vec();
    match form {
        BlockLength::Dgi => out.extend(encode_dgi_length(value.len())?),
        BlockLength::Ber => out.extend(encode_length(value.len())),
    }
    out.extend_from_slice(value);
    Ok(out)
}

/// One reading of a block: its length coding, its value and the bytes it takes.
type BlockReading<'a> = (BlockLength, &'a [u8], usize);

/// Every way to read a block `tag` at the start of `data`.
fn read_block(data: &[u8], tag: u16) -> Result<Vec<BlockReading<'_>>, EckaError> {
    if data.get(..2) != Some(&tag.to_be_bytes()[..]) {
        return Err(EckaError::Layout {
            offset: 0,
            reason: "expected DGI tag",
        });
    }
    let body = &data[2..];
    let mut out = Vec::new();
    // DGI reading.
    let dgi = match body.first() {
        Some(0xFF) => body
            .get(1..3)
            .map(|b| (usize::from(u16::from_be_bytes([b[0], b[1]])), 3))
            .filter(|(len, _)| *len >= 0xFF),
        Some(&len) => Some((usize::from(len), 1)),
        None => None,
    };
    // BER reading (minimal forms only).
    let ber = match body.first() {
        Some(&len) if len < 0x80 => Some((usize::from(len), 1)),
        Some(0x81) => body
            .get(1)
            .map(|&b| (usize::from(b), 2))
            .filter(|(l, _)| *l >= 0x80),
        Some(0x82) => body
            .get(1..3)
            .map(|b| (usize::from(u16::from_be_bytes([b[0], b[1]])), 3))
            .filter(|(l, _)| *l >= 0x100),
        _ => None,
    };
    for (form, reading) in [(BlockLength::Dgi, dgi), (BlockLength::Ber, ber)] {
        if let Some((len, header)) = reading {
            let end = 2 + header + len;
            if let Some(value) = data.get(2 + header..end) {
                out.push((form, value, end));
            }
        }
    }
    Ok(out)
}

/// The `3A01` block carrying a certificate.
pub fn encode_certificate_block(
    cert: &Certificate,
    form: BlockLength,
) -> Result<Vec<u8>, EckaError> {
    encode_block(DGI_CERTIFICATE, &cert.to_bytes(), form)
}

/// Reads a whole `3A01` STORE DATA data field: the reading (DGI or BER length) whose value is
/// exactly one `7F21` certificate filling the field.
pub fn decode_certificate_block(data: &[u8]) -> Result<(Certificate, BlockLength), EckaError> {
    let mut last_error = EckaError::Layout {
        offset: 2,
        reason: "3A01 length runs past the data",
    };
    for (form, value, end) in read_block(data, DGI_CERTIFICATE)? {
        if end != data.len() {
            last_error = EckaError::Layout {
                offset: end,
                reason: "bytes after the 3A01 block",
            };
            continue;
        }
        match Certificate::decode(value) {
            Ok(cert) => return Ok((cert, form)),
            Err(e) => last_error = EckaError::Pki(e),
        }
    }
    Err(last_error)
}

/// The content of the `3A02` STORE DATA command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyParameters {
    pub crt: ControlReferenceTemplate,
    /// ePK.DP.ECKA.
    pub ephemeral: PublicKey,
    /// SK.DP.ECDSA signature over [`KeyParameters::signed_data`].
    pub signature: EcdsaSignature,
}

/// A decoded `3A02` command with the exact bytes the signature and the receipt cover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedKeyParameters {
    pub parameters: KeyParameters,
    /// The `3A02` block as received.
    pub block: Vec<u8>,
    /// The `A6` TLV as received.
    pub crt_tlv: Vec<u8>,
    /// The `7F49` TLV as received.
    pub epk_tlv: Vec<u8>,
}

impl KeyParameters {
    /// The signature input: `3A02` block ‖ `7F49` TLV ‖ `00 85 L RC`.
    pub fn signed_data(block: &[u8], epk_tlv: &[u8], rc: &[u8]) -> Result<Vec<u8>, EckaError> {
        check_random(rc)?;
        let mut out = [block, epk_tlv, &[0x00, TAG_RANDOM]].concat();
        out.extend(encode_length(rc.len()));
        out.extend_from_slice(rc);
        Ok(out)
    }

    /// Builds and signs the command data (the `3A02` block always DGI-coded: the template is
    /// short enough for both codings to agree).
    pub fn build(
        crt: &ControlReferenceTemplate,
        ephemeral: &PublicKey,
        dp_key: &PrivateKey,
        rc: &[u8],
    ) -> Result<(Vec<u8>, ReceivedKeyParameters), EckaError> {
        let crt_tlv = crt.to_bytes();
        let block = encode_block(DGI_KEY_ESTABLISHMENT, &crt_tlv, BlockLength::Dgi)?;
        let epk_tlv = ephemeral.to_template().to_bytes();
        let signature = dp_key.sign(&Self::signed_data(&block, &epk_tlv, rc)?);
        let data = [
            block.clone(),
            epk_tlv.clone(),
            tlv(TAG_SIGNATURE, signature.as_bytes()),
        ]
        .concat();
        let parsed = ReceivedKeyParameters {
            parameters: Self {
                crt: crt.clone(),
                ephemeral: *ephemeral,
                signature,
            },
            block,
            crt_tlv,
            epk_tlv,
        };
        Ok((data, parsed))
    }

    /// Decodes the command data strictly: the `3A02` block, `7F49`, `5F37`, nothing else.
    pub fn decode(data: &[u8]) -> Result<ReceivedKeyParameters, EckaError> {
        let mut last_error = EckaError::Layout {
            offset: 2,
            reason: "3A02 length runs past the data",
        };
        for (_, value, end) in read_block(data, DGI_KEY_ESTABLISHMENT)? {
            match Self::decode_rest(data, value, end) {
                Ok(parsed) => return Ok(parsed),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn decode_rest(
        data: &[u8],
        crt_tlv: &[u8],
        end: usize,
    ) -> Result<ReceivedKeyParameters, EckaError> {
        let crt = ControlReferenceTemplate::decode(crt_tlv)?;
        let rest = Tlv::parse_all(&data[end..]).map_err(|e| e.shifted(end))?;
        let [epk, signature] = rest.as_slice() else {
            return Err(EckaError::Layout {
                offset: end,
                reason: "3A02 must be followed by exactly 7F49 and 5F37",
            });
        };
        if epk.tag != Tag::from(TAG_PUBLIC_KEY) || signature.tag != Tag::from(TAG_SIGNATURE) {
            return Err(EckaError::Layout {
                offset: end,
                reason: "3A02 must be followed by 7F49 then 5F37",
            });
        }
        Ok(ReceivedKeyParameters {
            parameters: Self {
                crt,
                ephemeral: PublicKey::from_template_value(&epk.value)?,
                signature: EcdsaSignature::from_slice(&signature.value)?,
            },
            block: data[..end].to_vec(),
            crt_tlv: crt_tlv.to_vec(),
            epk_tlv: epk.to_bytes(),
        })
    }
}

fn check_random(random: &[u8]) -> Result<(), EckaError> {
    if random.is_empty() || random.len() > MAX_RANDOM_LEN {
        return Err(EckaError::BadResponse("RC or DR must have 1 to 127 bytes"));
    }
    Ok(())
}

/// The card's answer to `3A01`: `85 L RC`.
pub fn encode_challenge_response(rc: &[u8]) -> Result<Vec<u8>, EckaError> {
    check_random(rc)?;
    Ok(tlv(TAG_RANDOM, rc))
}

/// Reads `85 L RC` (exactly).
pub fn decode_challenge_response(data: &[u8]) -> Result<Vec<u8>, EckaError> {
    let rc = Tlv::parse_expect(data, TAG_RANDOM)?.value;
    check_random(&rc)?;
    Ok(rc)
}

/// The card's answer to `3A02`: `85 L DR ‖ 86 10 receipt`.
pub fn encode_receipt_response(dr: &[u8], receipt: &[u8; 16]) -> Result<Vec<u8>, EckaError> {
    check_random(dr)?;
    Ok([tlv(TAG_RANDOM, dr), tlv(TAG_RECEIPT, receipt)].concat())
}

/// Reads `85 L DR ‖ 86 10 receipt` (exactly).
pub fn decode_receipt_response(data: &[u8]) -> Result<(Vec<u8>, [u8; 16]), EckaError> {
    let objects = Tlv::parse_all(data)?;
    let [dr, receipt] = objects.as_slice() else {
        return Err(EckaError::BadResponse("expected 85 DR then 86 receipt"));
    };
    if dr.tag != Tag::from(TAG_RANDOM) || receipt.tag != Tag::from(TAG_RECEIPT) {
        return Err(EckaError::BadResponse("expected 85 DR then 86 receipt"));
    }
    check_random(&dr.value)?;
    let receipt = <[u8; 16]>::try_from(receipt.value.as_slice())
        .map_err(|_| EckaError::BadResponse("the receipt has 16 bytes"))?;
    Ok((dr.value.clone(), receipt))
}

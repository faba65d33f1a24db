//! The untyped proactive command (TS 102 223 §6.6, clause recalled): `D0 L` around command
//! details, device identities and the command's data objects.

use super::{
    device, parse_ctlvs_at, parse_outer, push_ctlv, tags, wrap_outer, CatError, CommandDetails,
    Ctlv,
};

/// BER-TLV tag of a proactive command (TS 102 223 §9.1, clause recalled).
pub const TAG_PROACTIVE_COMMAND: u8 = 0xD0;

/// The most bytes a FETCH can return (`91 00` / Le `00` = 256), so the most a whole `D0 …`
/// proactive command may take.
pub const MAX_PROACTIVE_COMMAND: usize = 256;

const CONTEXT: &str = "proactive command";

/// A proactive command `D0 L { 81 03 number type qualifier, 82 02 source dest, … }` (TS 102 223
/// §6.6, clause recalled); the source is always the UICC (`81`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProactiveCommand {
    pub details: CommandDetails,
    pub destination: u8,
    /// The data objects after the device identities, in order, with their CR flags.
    pub tlvs: Vec<Ctlv>,
}

impl ProactiveCommand {
    /// Parses a whole proactive command (what FETCH returned, without the status word).
    ///
    /// Strict: the outer tag must be `D0`, its length must fill the input exactly and the input
    /// must not exceed [`MAX_PROACTIVE_COMMAND`]; the first data object must be command details
    /// (3 bytes), the second device identities (2 bytes, source UICC). CR and non-CR forms of
    /// both are accepted.
    pub fn parse(bytes: &[u8]) -> Result<Self, CatError> {
        Ok(Self::parse_with_offsets(bytes)?.0)
    }

    /// [`Self::parse`], also returning the offset of each TLV in `tlvs`.
    pub(crate) fn parse_with_offsets(bytes: &[u8]) -> Result<(Self, Vec<usize>), CatError> {
        let (value, start) = parse_outer(bytes, TAG_PROACTIVE_COMMAND, CONTEXT)?;
        if bytes.len() > MAX_PROACTIVE_COMMAND {
            return Err(CatError::TooLong {
                what: CONTEXT,
                len: bytes.len(),
                max: MAX_PROACTIVE_COMMAND,
            });
        }
        let mut tlvs = parse_ctlvs_at(value, start)?.into_iter();
        let (details, (source, destination)) = details_and_identities(&mut tlvs, CONTEXT)?;
        if source != device::UICC {
            return Err(CatError::BadDeviceIdentities {
                context: CONTEXT,
                from: source,
                to: destination,
            });
        }
        let (offsets, tlvs) = tlvs.unzip();
        Ok((
            Self {
                details,
                destination,
                tlvs,
            },
            offsets,
        ))
    }

    /// Encodes the command: command details and device identities with the CR bit (`81`, `82`),
    /// then the TLVs as stored. Errors if a value exceeds 255 bytes or the whole command exceeds
    /// [`MAX_PROACTIVE_COMMAND`].
    pub fn to_bytes(&self) -> Result<Vec<u8>, CatError> {
        let mut body = Vec::new();
        push_ctlv(
            &mut body,
            tags::COMMAND_DETAILS | tags::CR,
            &self.details.to_value(),
        )?;
        push_ctlv(
            &mut body,
            tags::DEVICE_IDENTITIES | tags::CR,
            &[device::UICC, self.destination],
        )?;
        for t in &self.tlvs {
            t.push_to(&mut body)?;
        }
        let out = wrap_outer(TAG_PROACTIVE_COMMAND, &body).map_err(|_| CatError::TooLong {
            what: CONTEXT,
            len: body.len() + 3,
            max: MAX_PROACTIVE_COMMAND,
        })?;
        if out.len() > MAX_PROACTIVE_COMMAND {
            return Err(CatError::TooLong {
                what: CONTEXT,
                len: out.len(),
                max: MAX_PROACTIVE_COMMAND,
            });
        }
        Ok(out)
    }

    /// The first TLV with this tag (the CR bit of `tag` and of the stored TLVs is ignored).
    pub fn find(&self, tag: u8) -> Option<&Ctlv> {
        find(&self.tlvs, tag)
    }
}

/// The first TLV in `tlvs` with this tag, CR bit ignored.
pub(crate) fn find(tlvs: &[Ctlv], tag: u8) -> Option<&Ctlv> {
    tlvs.iter().find(|t| t.tag & 0x7F == tag & 0x7F)
}

/// Takes command details and device identities (source, destination) from the front of `tlvs`.
pub(crate) fn details_and_identities(
    tlvs: &mut impl Iterator<Item = (usize, Ctlv)>,
    context: &'static str,
) -> Result<(CommandDetails, (u8, u8)), CatError> {
    let details = match tlvs.next() {
        Some((offset, t)) if t.tag == tags::COMMAND_DETAILS => CommandDetails::from_value(&t.value)
            .ok_or(CatError::BadValue {
                context,
                tag: t.tag,
                offset,
                reason: "command details must be 3 bytes",
            })?,
        Some((offset, t)) => {
            return Err(CatError::Unexpected {
                context,
                tag: t.encoded_tag(),
                offset,
            })
        }
        None => {
            return Err(CatError::Missing {
                context,
                what: "command details",
                tag: tags::COMMAND_DETAILS,
            })
        }
    };
    let identities = match tlvs.next() {
        Some((offset, t)) if t.tag == tags::DEVICE_IDENTITIES => match t.value.as_slice() {
            [source, destination] => (*source, *destination),
            _ => {
                return Err(CatError::BadValue {
                    context,
                    tag: t.tag,
                    offset,
                    reason: "device identities must be 2 bytes",
                })
            }
        },
        Some((offset, t)) => {
            return Err(CatError::Unexpected {
                context,
                tag: t.encoded_tag(),
                offset,
            })
        }
        None => {
            return Err(CatError::Missing {
                context,
                what: "device identities",
                tag: tags::DEVICE_IDENTITIES,
            })
        }
    };
    Ok((details, identities))
}

//! Card Production Life Cycle data (`9F7F`, 42 bytes). Not part of GPCS v2.3.1 but answered by
//! most GlobalPlatform cards to `80 CA 9F 7F 00` (or `00 CA 9F 7F 00`); the field layout is the
//! one GlobalPlatformPro `CPLC.java` documents. Dates are four BCD digits `Y DDD`: the last
//! digit of the year and the day of the year.

use super::super::codec::Reader;
use super::super::GpError;
use super::{tags, DataObject};

/// Length of the CPLC value.
pub const CPLC_LEN: usize = 42;

macro_rules! cplc {
    ($($field:ident: $len:literal = $name:literal,)*) => {
        /// The CPLC fields, in card order.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct Cplc {
            $(#[doc = $name] pub $field: [u8; $len],)*
        }

        impl Cplc {
            /// Every field with its name, in card order.
            pub fn fields(&self) -> Vec<(&'static str, &[u8])> {
                vec![$(($name, &self.$field[..]),)*]
            }

            fn read(r: &mut Reader<'_>) -> Result<Self, GpError> {
                Ok(Self {
                    $($field: r
                        .take($len, $name)?
                        .try_into()
                        .map_err(|_| GpError::invalid(r.offset(), None, "CPLC field"))?,)*
                })
            }
        }
    };
}

cplc! {
    ic_fabricator: 2 = "ICFabricator",
    ic_type: 2 = "ICType",
    operating_system_id: 2 = "OperatingSystemID",
    operating_system_release_date: 2 = "OperatingSystemReleaseDate",
    operating_system_release_level: 2 = "OperatingSystemReleaseLevel",
    ic_fabrication_date: 2 = "ICFabricationDate",
    ic_serial_number: 4 = "ICSerialNumber",
    ic_batch_identifier: 2 = "ICBatchIdentifier",
    ic_module_fabricator: 2 = "ICModuleFabricator",
    ic_module_packaging_date: 2 = "ICModulePackagingDate",
    icc_manufacturer: 2 = "ICCManufacturer",
    ic_embedding_date: 2 = "ICEmbeddingDate",
    ic_pre_personalizer: 2 = "ICPrePersonalizer",
    ic_pre_personalization_equipment_date: 2 = "ICPrePersonalizationEquipmentDate",
    ic_pre_personalization_equipment_id: 4 = "ICPrePersonalizationEquipmentID",
    ic_personalizer: 2 = "ICPersonalizer",
    ic_personalization_date: 2 = "ICPersonalizationDate",
    ic_personalization_equipment_id: 4 = "ICPersonalizationEquipmentID",
}

impl DataObject for Cplc {
    const TAG: u16 = tags::CPLC;

    fn from_value(value: &[u8], base: usize) -> Result<Self, GpError> {
        if value.len() != CPLC_LEN {
            return Err(GpError::invalid(
                base,
                Some(tags::CPLC.into()),
                "CPLC data must be 42 bytes",
            ));
        }
        let mut r = Reader::new(value, base);
        let cplc = Self::read(&mut r)?;
        r.finish()?;
        Ok(cplc)
    }

    fn value(&self) -> Vec<u8> {
        self.fields()
            .into_iter()
            .flat_map(|(_, v)| v.iter().copied())
            .collect()
    }
}

/// A CPLC date `Y DDD` as (last digit of the year, day of the year 1–366), if it is one.
pub fn cplc_date(date: [u8; 2]) -> Option<(u8, u16)> {
    let digits = [date[0] >> 4, date[0] & 0x0F, date[1] >> 4, date[1] & 0x0F];
    if digits.iter().any(|&d| d > 9) {
        return None;
    }
    let day = u16::from(digits[1]) * 100 + u16::from(digits[2]) * 10 + u16::from(digits[3]);
    (1..=366).contains(&day).then_some((digits[0], day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apdu::ResponseApdu;
    use crate::gp::get_data::GetData;
    use crate::gp::testdata::{gp_examples, h, hex_field};
    use crate::status::StatusWord;

    #[test]
    fn fixture_cplc_9f7f() {
        let Some(all) = gp_examples() else {
            return;
        };
        let layout = &all["cplc_9F7F_layout"];
        // The field table of GlobalPlatformPro CPLC.java, as the fixture lists it.
        let table: Vec<(String, usize)> = layout["fields_in_order_bytes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f[0].as_str().unwrap().to_owned(),
                    usize::try_from(f[1].as_u64().unwrap()).unwrap(),
                )
            })
            .collect();
        assert_eq!(table.iter().map(|f| f.1).sum::<usize>(), CPLC_LEN);
        assert_eq!(layout["total_len"].as_str().unwrap().get(..2), Some("2A"));

        // GlobalPlatformPro issue #112 log.
        let sample = &layout["sample"];
        assert!(sample["source"].as_str().unwrap().contains("issue #112"));
        let rsp = ResponseApdu::parse(&hex_field(sample, "rsp")).unwrap();
        assert_eq!(rsp.sw, StatusWord::Success);
        let value = GetData::new(tags::CPLC).value_of(&rsp.data).unwrap();
        assert_eq!(value.len(), CPLC_LEN);
        let cplc = Cplc::parse(&rsp.data).unwrap();
        let ours: Vec<(&str, usize)> = cplc.fields().iter().map(|(n, v)| (*n, v.len())).collect();
        let theirs: Vec<(&str, usize)> = table.iter().map(|(n, l)| (n.as_str(), *l)).collect();
        assert_eq!(ours, theirs);
        // Field values sliced from the sample by the fixture's table, compared to ours.
        let mut at = 0;
        for ((name, len), (_, got)) in table.iter().zip(cplc.fields()) {
            assert_eq!(&value[at..at + len], got, "{name}");
            at += len;
        }
        assert_eq!(cplc.ic_fabricator, [0x47, 0x90]);
        assert_eq!(cplc.ic_serial_number, [0x00, 0x00, 0x11, 0x4A]);
        assert_eq!(cplc_date(cplc.ic_fabrication_date), Some((6, 133)));
        assert_eq!(cplc_date(cplc.ic_personalization_date), None);
        assert_eq!(cplc.to_bytes(), rsp.data);
        // The fixture's date note: 1210 is year digit 1, day 210 (29 July).
        assert_eq!(cplc_date([0x12, 0x10]), Some((1, 210)));
    }

    #[test]
    fn strictness() {
        assert!(Cplc::parse(&h("9F7F00")).is_err());
        let mut long = h("9F7F2B");
        long.extend([0u8; 43]);
        assert!(Cplc::parse(&long).is_err());
        let mut ok = h("9F7F2A");
        ok.extend([0u8; 42]);
        assert!(Cplc::parse(&ok).is_ok());
        ok.push(0);
        assert!(matches!(
            Cplc::parse(&ok),
            Err(GpError::TrailingBytes {
                offset: 45,
                count: 1
            })
        ));
        assert_eq!(cplc_date([0x0A, 0x00]), None);
        assert_eq!(cplc_date([0x93, 0x67]), None);
        assert_eq!(cplc_date([0x93, 0x66]), Some((9, 366)));
    }
}

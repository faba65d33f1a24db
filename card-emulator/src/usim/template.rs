//! The SAIP file templates this card knows (SAIP v2.3.1 §9 / Annex A, "created by default"
//! templates): the MF (`2.23.143.1.2.1`, SAIP §9.2), the mandatory files of ADF.USIM
//! (`2.23.143.1.2.4`, §9.5.1, and its v2 `2.23.143.1.2.4.2`, where EF.UST is 17 bytes) and of
//! ADF.ISIM (`2.23.143.1.2.8`, §9.6.1; FIDs and SFIs 3GPP TS 31.103 §4.2).
//!
//! Each row gives what a PE may leave out: file identifier, structure, size (record count and
//! length for record files), SFI, the EF.ARR record of its access rules and the default
//! content. File identifiers are those of ETSI TS 102 221 §13 and 3GPP TS 31.102 §4.2; the
//! sizes, ARR records and defaults are the template values of SAIP Annex A (as transcribed in
//! pySim's `templates.py`, read for the values only). `None` for a size means the template
//! leaves it to the PE.
//!
//! Of the "not created by default" templates, where only the files a PE names are created,
//! this card tables the rows whose size or default the TS.48 packages leave to the template:
//! DF.TELECOM (`.3`: the phonebook counters), the optional USIM files (`.5`) and DF.GSM-ACCESS
//! (`.7`). Any other file, and every file of a template not listed (DF.5GS, DF.SAIP, the
//! optional ISIM files, ADF.CSIM — created by default in SAIP, not tabled here, so only the
//! CSIM files its PE names are created), is built from the FCP its PE gives
//! ([`super::build`]).

/// Structure of a template file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Structure {
    Mf,
    Adf,
    Df,
    /// Transparent EF of this size (or the PE's).
    Transparent(Option<u16>),
    /// Linear fixed EF: (records, record length), or the PE's.
    LinearFixed(Option<(u8, u8)>),
    /// Cyclic EF: (records, record length).
    Cyclic(Option<(u8, u8)>),
    /// BER-TLV EF (TS 102 221 §11.3).
    BerTlv,
}

/// A default content: a pattern, either repeated over the file (`repeat`) or written once
/// with its last byte repeated to the end (the ETSI TS 102 222 §6.3.2.2.2 fill rule). For a
/// record file the rule applies to each record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Default {
    pub pattern: &'static [u8],
    pub repeat: bool,
}

/// All `FF`: the erased state, the default when nothing else is given (SAIP.md §8).
pub const ERASED: Default = Default {
    pattern: &[0xFF],
    repeat: false,
};

/// One file of a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateFile {
    /// The PE field name (SAIP ASN.1).
    pub field: &'static str,
    /// `None` for an ADF (its temporary FID comes from the PE).
    pub fid: Option<u16>,
    pub structure: Structure,
    pub sfi: Option<u8>,
    /// Record of the EF.ARR of the file's level holding its access rules.
    pub arr_record: u8,
    pub default: Option<Default>,
}

const fn f(
    field: &'static str,
    fid: u16,
    structure: Structure,
    sfi: Option<u8>,
    arr_record: u8,
    default: Option<Default>,
) -> TemplateFile {
    TemplateFile {
        field,
        fid: Some(fid),
        structure,
        sfi,
        arr_record,
        default,
    }
}

const FF: Option<Default> = Some(ERASED);
const fn once(pattern: &'static [u8]) -> Option<Default> {
    Some(Default {
        pattern,
        repeat: false,
    })
}

use Structure::{LinearFixed as Lf, Transparent as Tr};

/// MF template, `2.23.143.1.2.1` (SAIP §9.2; FIDs TS 102 221 §13.1–13.4).
pub const MF: &[TemplateFile] = &[
    f("mf", 0x3F00, Structure::Mf, None, 14, None),
    f("ef-pl", 0x2F05, Tr(Some(2)), Some(0x05), 1, FF),
    f("ef-iccid", 0x2FE2, Tr(Some(10)), None, 11, None),
    f("ef-dir", 0x2F00, Lf(None), Some(0x1E), 10, None),
    f("ef-arr", 0x2F06, Lf(None), None, 10, None),
    f("ef-umpc", 0x2F08, Tr(Some(5)), Some(0x08), 10, None),
];

/// The ADF.USIM mandatory template, `2.23.143.1.2.4` (SAIP §9.5.1; FIDs and SFIs TS 31.102
/// §4.2). `ust_size` is 14 for v1, 17 for v2.
const fn usim(ust_size: u16) -> [TemplateFile; 24] {
    [
        TemplateFile {
            field: "adf-usim",
            fid: None,
            structure: Structure::Adf,
            sfi: None,
            arr_record: 14,
            default: None,
        },
        f("ef-imsi", 0x6F07, Tr(Some(9)), Some(0x07), 2, None),
        f("ef-arr", 0x6F06, Lf(None), Some(0x17), 10, None),
        f(
            "ef-keys",
            0x6F08,
            Tr(Some(33)),
            Some(0x08),
            5,
            once(&[0x07, 0xFF]),
        ),
        f(
            "ef-keysPS",
            0x6F09,
            Tr(Some(33)),
            Some(0x09),
            5,
            once(&[0x07, 0xFF]),
        ),
        f(
            "ef-hpplmn",
            0x6F31,
            Tr(Some(1)),
            Some(0x12),
            2,
            once(&[0x0A]),
        ),
        f("ef-ust", 0x6F38, Tr(Some(ust_size)), Some(0x04), 2, None),
        f("ef-fdn", 0x6F3B, Lf(Some((20, 26))), None, 8, FF),
        f(
            "ef-sms",
            0x6F3C,
            Lf(Some((10, 176))),
            None,
            5,
            once(&[0x00, 0xFF]),
        ),
        f("ef-smsp", 0x6F42, Lf(Some((1, 38))), None, 5, FF),
        f("ef-smss", 0x6F43, Tr(Some(2)), None, 5, FF),
        f("ef-spn", 0x6F46, Tr(Some(17)), None, 10, None),
        f("ef-est", 0x6F56, Tr(Some(1)), Some(0x05), 8, None),
        f(
            "ef-start-hfn",
            0x6F5B,
            Tr(Some(6)),
            Some(0x0F),
            5,
            once(&[0xF0, 0x00, 0x00, 0xF0, 0x00, 0x00]),
        ),
        f("ef-threshold", 0x6F5C, Tr(Some(3)), Some(0x10), 2, FF),
        f(
            "ef-psloci",
            0x6F73,
            Tr(Some(14)),
            Some(0x0C),
            5,
            once(&[
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0x01,
            ]),
        ),
        f("ef-acc", 0x6F78, Tr(Some(2)), Some(0x06), 2, None),
        f("ef-fplmn", 0x6F7B, Tr(Some(12)), Some(0x0D), 5, FF),
        f(
            "ef-loci",
            0x6F7E,
            Tr(Some(11)),
            Some(0x0B),
            5,
            once(&[
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0xFF, 0x01,
            ]),
        ),
        f(
            "ef-ad",
            0x6FAD,
            Tr(Some(4)),
            Some(0x03),
            10,
            once(&[0x00, 0x00, 0x00, 0x02]),
        ),
        f("ef-ecc", 0x6FB7, Lf(Some((1, 4))), Some(0x01), 10, None),
        f("ef-netpar", 0x6FC4, Tr(Some(128)), None, 5, FF),
        f(
            "ef-epsloci",
            0x6FE3,
            Tr(Some(18)),
            Some(0x1E),
            5,
            once(&[
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                0xFF, 0x00, 0x00, 0x01,
            ]),
        ),
        f("ef-epsnsc", 0x6FE4, Lf(Some((1, 80))), Some(0x18), 5, FF),
    ]
}

/// ADF.ISIM mandatory, `2.23.143.1.2.8` (SAIP §9.6.1).
pub const ISIM: &[TemplateFile] = &[
    TemplateFile {
        field: "adf-isim",
        fid: None,
        structure: Structure::Adf,
        sfi: None,
        arr_record: 14,
        default: None,
    },
    f("ef-impi", 0x6F02, Tr(None), Some(0x02), 2, None),
    f("ef-impu", 0x6F04, Lf(None), Some(0x04), 2, None),
    f("ef-domain", 0x6F03, Tr(None), Some(0x05), 2, None),
    f("ef-ist", 0x6F07, Tr(Some(14)), Some(0x07), 2, None),
    f(
        "ef-ad",
        0x6FAD,
        Tr(Some(3)),
        Some(0x03),
        10,
        once(&[0x00, 0x00, 0x00]),
    ),
    f("ef-arr", 0x6F06, Lf(None), Some(0x06), 10, None),
];

/// ADF.USIM mandatory, v1.
pub const USIM: &[TemplateFile] = &usim(14);
/// ADF.USIM mandatory, v2 (`2.23.143.1.2.4.2`).
pub const USIM_V2: &[TemplateFile] = &usim(17);

/// DF.TELECOM `2.23.143.1.2.3` and v2 `.3.2` (SAIP §9.4; TS 31.102 §4.4.2: the phonebook counters under
/// DF.PHONEBOOK `5F3A`; their SFIs are the PE's).
pub const TELECOM: &[TemplateFile] = &[
    f("ef-psc", 0x4F22, Tr(Some(4)), None, 5, once(&[0x00])),
    f("ef-cc", 0x4F23, Tr(Some(2)), None, 5, once(&[0x00])),
    f("ef-puid", 0x4F24, Tr(Some(2)), None, 5, once(&[0x00])),
];

/// Optional files of ADF.USIM `2.23.143.1.2.5`, v2 `.5.2`, v3 `.5.3` (SAIP §9.5.2: these rows
/// are the same in the three; FIDs TS 31.102 §4.2).
pub const OPT_USIM: &[TemplateFile] = &[
    f("ef-li", 0x6F05, Tr(Some(6)), Some(0x02), 1, FF),
    f("ef-acmax", 0x6F37, Tr(Some(3)), None, 5, once(&[0x00])),
    f(
        "ef-puct",
        0x6F41,
        Tr(Some(5)),
        None,
        5,
        once(&[0xFF, 0xFF, 0xFF, 0x00, 0x00]),
    ),
    f("ef-dck", 0x6F2C, Tr(Some(16)), None, 5, FF),
    f("ef-ccp2", 0x6F4F, Lf(Some((5, 15))), Some(0x16), 5, FF),
    f("ef-vgcss", 0x6FB2, Tr(Some(7)), None, 5, None),
    f("ef-vbss", 0x6FB4, Tr(Some(7)), None, 5, None),
    f("ef-emlpp", 0x6FB5, Tr(Some(2)), None, 2, None),
    f("ef-aaem", 0x6FB6, Tr(Some(1)), None, 5, once(&[0x00])),
    f("ef-hiddenkey", 0x6FC3, Tr(Some(4)), None, 5, FF),
    f(
        "ef-ext8",
        0x6FCF,
        Lf(Some((10, 13))),
        None,
        5,
        once(&[0x00, 0xFF]),
    ),
    f("ef-mmsicp", 0x6FD0, Tr(Some(100)), None, 2, FF),
    f("ef-mmsucp", 0x6FD2, Tr(Some(100)), None, 5, FF),
    f("ef-ehplmnpi", 0x6FDB, Tr(Some(1)), None, 2, once(&[0x00])),
    f("ef-lrplmnsi", 0x6FDC, Tr(Some(1)), None, 2, once(&[0x00])),
];

/// DF.GSM-ACCESS under ADF.USIM `2.23.143.1.2.7` (SAIP §9.5.4; TS 31.102 §4.4.3). EF.Kc and
/// EF.KcGPRS default to an erased Kc with key sequence number `07` ("no key").
pub const GSM_ACCESS: &[TemplateFile] = &[
    TemplateFile {
        field: "df-gsm-access",
        fid: Some(0x5F3B),
        structure: Structure::Df,
        sfi: None,
        arr_record: 14,
        default: None,
    },
    f(
        "ef-kc",
        0x4F20,
        Tr(Some(9)),
        Some(0x01),
        5,
        once(&KC_ERASED),
    ),
    f(
        "ef-kcgprs",
        0x4F52,
        Tr(Some(9)),
        Some(0x02),
        5,
        once(&KC_ERASED),
    ),
    f("ef-cpbcch", 0x4F63, Tr(Some(10)), None, 5, FF),
    f("ef-invscan", 0x4F64, Tr(Some(1)), None, 2, once(&[0x00])),
];

const KC_ERASED: [u8; 9] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x07];

/// A template: its rows and whether its files exist unless `doNotCreate` (SAIP §8.3).
#[derive(Clone, Copy, Debug)]
pub struct Template {
    pub rows: &'static [TemplateFile],
    pub created_by_default: bool,
}

impl Template {
    /// The row of a field.
    pub fn row(&self, field: &str) -> Option<&'static TemplateFile> {
        self.rows.iter().find(|r| r.field == field)
    }
}

/// The template of an OID (dotted), if this card tables it.
pub fn lookup(oid: &str) -> Option<Template> {
    let (rows, created_by_default) = match oid {
        "2.23.143.1.2.1" => (MF, true),
        "2.23.143.1.2.3" | "2.23.143.1.2.3.2" => (TELECOM, false),
        "2.23.143.1.2.4" => (USIM, true),
        "2.23.143.1.2.4.2" => (USIM_V2, true),
        "2.23.143.1.2.5" | "2.23.143.1.2.5.2" | "2.23.143.1.2.5.3" => (OPT_USIM, false),
        "2.23.143.1.2.7" => (GSM_ACCESS, false),
        "2.23.143.1.2.8" => (ISIM, true),
        _ => return None,
    };
    Some(Template {
        rows,
        created_by_default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::saip::fields;

    /// Every row names a field of its PE, in the PE's field order, and all fields are covered
    /// (the "created by default" templates define every file of their PE).
    #[test]
    fn rows_follow_the_asn1_fields() {
        for (table, pe) in [
            (MF, fields::MF),
            (USIM, fields::USIM),
            (USIM_V2, fields::USIM),
            (ISIM, fields::ISIM),
        ] {
            let names: Vec<&str> = table.iter().map(|t| t.field).collect();
            let asn1: Vec<&str> = pe.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, asn1);
        }
        // The partial tables: each row a field of its PE, in the PE's order.
        for (table, pe) in [
            (TELECOM, fields::TELECOM),
            (OPT_USIM, fields::OPT_USIM),
            (GSM_ACCESS, fields::GSM_ACCESS),
        ] {
            let positions: Vec<usize> = table
                .iter()
                .map(|t| pe.iter().position(|(n, _)| *n == t.field).unwrap())
                .collect();
            assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        }
        assert_eq!(USIM[6].structure, Structure::Transparent(Some(14)));
        assert_eq!(USIM_V2[6].structure, Structure::Transparent(Some(17)));
    }
}

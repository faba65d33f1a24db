//! The report of `smsr profile inspect`: what a package holds, as a serde value (the `--json`
//! schema) and as text. Secret values (K, OPc, PIN, PUK) are REDACTED unless asked for; key
//! values of security domains are never printed.

use super::REDACTED;
use crate::hexfmt;
use serde::Serialize;
use smsr_proto::saip::aka::{AlgoConfiguration, AlgorithmId, XORING_CONSTANTS_DEFAULT};
use smsr_proto::saip::identity::{iccid_from_header, imsi_from_ef};
use smsr_proto::saip::pin::PinCodes;
use smsr_proto::saip::{Package, PeKind, ProfileElement, SecretBytes};

/// The `inspect` report (the `--json` schema).
#[derive(Debug, Serialize)]
pub struct Inspection {
    pub file: String,
    pub size: usize,
    pub header: Option<HeaderView>,
    pub pes: Vec<PeView>,
    pub imsi: Option<String>,
    pub aka: Vec<AkaView>,
    pub pins: Vec<PinView>,
    pub puks: Vec<PinView>,
    pub security_domains: Vec<SdView>,
    pub file_count: usize,
    pub undecoded: Vec<UndecodedView>,
    pub problems: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct HeaderView {
    pub version: String,
    pub iccid: String,
    pub profile_type: Option<String>,
    pub mandatory_services: Vec<String>,
    pub mandatory_gfste: Vec<String>,
    #[serde(serialize_with = "hexfmt::serialize_opt")]
    pub pol: Option<Vec<u8>>,
}

#[derive(Debug, Serialize)]
pub struct PeView {
    pub index: usize,
    pub kind: &'static str,
    pub identification: Option<u16>,
    pub mandated: Option<bool>,
    pub offset: usize,
    pub length: usize,
    pub decoded: bool,
}

#[derive(Debug, Serialize)]
pub struct AkaView {
    pub identification: Option<u16>,
    /// `milenage`, `tuak`, `usim-test-algorithm`, `other(n)` or `mapping`.
    pub algorithm: String,
    pub algorithm_options: Option<String>,
    pub k: Option<String>,
    pub opc: Option<String>,
    pub rotation_constants: Option<String>,
    /// `default` or the 80 bytes in hex.
    pub xoring_constants: Option<String>,
    pub number_of_keccak: Option<u8>,
    pub sqn_options: String,
    pub sqn_delta: String,
    pub sqn_age_limit: String,
}

#[derive(Debug, Serialize)]
pub struct PinView {
    pub identification: Option<u16>,
    pub key_reference: Option<String>,
    pub value: Option<String>,
    /// For a pinCodes PE that shares the PINs of another DF/ADF.
    pub file_path: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SdView {
    pub identification: u16,
    pub instance_aid: String,
    pub class_aid: String,
    pub package_aid: String,
    pub privileges: String,
    pub life_cycle_state: String,
    /// `KVN/key id usage type…` per key; key values are never printed.
    pub keys: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct UndecodedView {
    pub index: usize,
    pub kind: &'static str,
    pub identification: Option<u16>,
    pub offset: usize,
    pub length: usize,
    /// Why it did not decode; `null` for PE kinds kept as bytes by design (cdmaParameter,
    /// application, nonStandard, rfu).
    pub error: Option<String>,
}

fn secret(s: &SecretBytes, show: bool) -> String {
    if show {
        hexfmt::upper(s.expose())
    } else {
        REDACTED.to_string()
    }
}

fn algorithm_name(id: AlgorithmId) -> String {
    match id {
        AlgorithmId::Milenage => "milenage".into(),
        AlgorithmId::Tuak => "tuak".into(),
        AlgorithmId::UsimTestAlgorithm => "usim-test-algorithm".into(),
        AlgorithmId::Other(n) => format!("other({n})"),
    }
}

/// Builds the `inspect` report of a parsed package.
pub fn inspection(file: &str, size: usize, package: &Package, show: bool) -> Inspection {
    let header = package.header().map(|h| HeaderView {
        version: format!("{}.{}", h.major_version, h.minor_version),
        iccid: iccid_from_header(&h.iccid).unwrap_or_else(|_| hexfmt::upper(&h.iccid)),
        profile_type: h.profile_type.clone(),
        mandatory_services: h
            .mandatory_services
            .iter()
            .map(|s| s.name().to_string())
            .collect(),
        mandatory_gfste: h
            .mandatory_gfste_list
            .iter()
            .map(|o| o.to_dotted())
            .collect(),
        pol: h.pol.clone(),
    });
    let mut pes = Vec::new();
    let mut aka = Vec::new();
    let mut pins = Vec::new();
    let mut puks = Vec::new();
    let mut security_domains = Vec::new();
    let mut undecoded = Vec::new();
    let mut file_count = 0;
    for (index, e) in package.elements.iter().enumerate() {
        let pe = &e.element;
        let header = pe.pe_header();
        let decoded = !matches!(pe, ProfileElement::Opaque(_));
        pes.push(PeView {
            index,
            kind: pe.kind().name(),
            identification: header.map(|h| h.identification),
            mandated: header.map(|h| h.mandated),
            offset: e.offset,
            length: e.length,
            decoded,
        });
        let identification = header.map(|h| h.identification);
        match pe {
            ProfileElement::FileSystem(fs) => file_count += fs.files.len(),
            ProfileElement::AkaParameter(p) => {
                let mut v = AkaView {
                    identification,
                    algorithm: "mapping".into(),
                    algorithm_options: None,
                    k: None,
                    opc: None,
                    rotation_constants: None,
                    xoring_constants: None,
                    number_of_keccak: None,
                    sqn_options: format!("{:02X}", p.sqn_options),
                    sqn_delta: hexfmt::upper(&p.sqn_delta),
                    sqn_age_limit: hexfmt::upper(&p.sqn_age_limit),
                };
                if let AlgoConfiguration::AlgoParameter(a) = &p.algo_configuration {
                    v.algorithm = algorithm_name(a.algorithm_id);
                    v.algorithm_options = Some(format!("{:02X}", a.algorithm_options));
                    v.k = Some(secret(&a.key, show));
                    v.opc = Some(secret(&a.opc, show));
                    v.rotation_constants = Some(hexfmt::upper(&a.rotation_constants));
                    v.xoring_constants = Some(if a.xoring_constants == XORING_CONSTANTS_DEFAULT {
                        "default".into()
                    } else {
                        hexfmt::upper(&a.xoring_constants)
                    });
                    v.number_of_keccak = Some(a.number_of_keccak);
                }
                aka.push(v);
            }
            ProfileElement::PinCodes(p) => match &p.pin_codes {
                PinCodes::PinConfig(list) => pins.extend(list.iter().map(|c| PinView {
                    identification,
                    key_reference: Some(format!("{:02X}", c.key_reference)),
                    value: Some(secret(&c.pin_value, show)),
                    file_path: None,
                })),
                PinCodes::FilePath(path) => pins.push(PinView {
                    identification,
                    key_reference: None,
                    value: None,
                    file_path: Some(hexfmt::upper(path)),
                }),
            },
            ProfileElement::PukCodes(p) => puks.extend(p.puk_codes.iter().map(|c| PinView {
                identification,
                key_reference: Some(format!("{:02X}", c.key_reference)),
                value: Some(secret(&c.puk_value, show)),
                file_path: None,
            })),
            ProfileElement::SecurityDomain(sd) => {
                let i = &sd.instance;
                security_domains.push(SdView {
                    identification: sd.header.identification,
                    instance_aid: hexfmt::upper(&i.instance_aid),
                    class_aid: hexfmt::upper(&i.class_aid),
                    package_aid: hexfmt::upper(&i.application_load_package_aid),
                    privileges: hexfmt::upper(&i.application_privileges),
                    life_cycle_state: format!("{:02X}", i.life_cycle_state),
                    keys: sd
                        .key_list
                        .iter()
                        .flatten()
                        .map(|k| {
                            let types: Vec<String> = k
                                .key_components
                                .iter()
                                .map(|c| {
                                    format!(
                                        "{}({} bytes)",
                                        hexfmt::upper(&c.key_type),
                                        c.key_data.len()
                                    )
                                })
                                .collect();
                            format!(
                                "KVN {:02X} id {:02X} usage {} {}",
                                k.key_version_number,
                                k.key_identifier,
                                hexfmt::upper(&k.key_usage_qualifier),
                                types.join(",")
                            )
                        })
                        .collect(),
                });
            }
            ProfileElement::Opaque(o) => undecoded.push(UndecodedView {
                index,
                kind: o.kind.name(),
                identification,
                offset: e.offset,
                length: e.length,
                error: o.error.as_ref().map(ToString::to_string),
            }),
            _ => {}
        }
    }
    let imsi = package
        .file_system(PeKind::Usim)
        .and_then(|u| u.file("ef-imsi"))
        .and_then(|f| imsi_from_ef(&f.content(0xFF)).ok());
    let mut problems = package.structural_problems();
    problems.extend(package.header_problems());
    Inspection {
        file: file.to_string(),
        size,
        header,
        pes,
        imsi,
        aka,
        pins,
        puks,
        security_domains,
        file_count,
        undecoded,
        problems,
    }
}

fn opt<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "-".to_string(), ToString::to_string)
}

/// The text form of the report.
pub fn print_text(r: &Inspection) {
    println!("{} ({} bytes, {} PEs)", r.file, r.size, r.pes.len());
    match &r.header {
        Some(h) => {
            println!(
                "header: SAIP {}  ICCID {}  type {}",
                h.version,
                h.iccid,
                opt(&h.profile_type)
            );
            println!("  mandatory services: {}", h.mandatory_services.join(", "));
            if !h.mandatory_gfste.is_empty() {
                println!("  mandatory GFSTE: {}", h.mandatory_gfste.join(", "));
            }
        }
        None => println!("header: none decodable"),
    }
    println!("IMSI: {}", opt(&r.imsi));
    println!("PEs:");
    println!(
        "  {:>3}  {:<24} {:>5} {:>8} {:>7}  mandated",
        "#", "kind", "id", "offset", "length"
    );
    for p in &r.pes {
        println!(
            "  {:>3}  {:<24} {:>5} {:>8} {:>7}  {}{}",
            p.index,
            p.kind,
            opt(&p.identification),
            p.offset,
            p.length,
            p.mandated.map_or("-", |m| if m { "yes" } else { "no" }),
            if p.decoded { "" } else { "  (not decoded)" }
        );
    }
    for a in &r.aka {
        println!(
            "AKA (PE {}): {} options {} K {} OPc {} rotation {} xoring {} sqnOptions {} sqnDelta {} sqnAgeLimit {}",
            opt(&a.identification),
            a.algorithm,
            opt(&a.algorithm_options),
            opt(&a.k),
            opt(&a.opc),
            opt(&a.rotation_constants),
            opt(&a.xoring_constants),
            a.sqn_options,
            a.sqn_delta,
            a.sqn_age_limit
        );
    }
    for (what, list) in [("PIN", &r.pins), ("PUK", &r.puks)] {
        for p in list {
            match &p.file_path {
                Some(path) => println!(
                    "{what} (PE {}): shares the PINs of {path}",
                    opt(&p.identification)
                ),
                None => println!(
                    "{what} (PE {}): key reference {} value {}",
                    opt(&p.identification),
                    opt(&p.key_reference),
                    opt(&p.value)
                ),
            }
        }
    }
    for sd in &r.security_domains {
        println!(
            "security domain (PE {}): instance {} class {} package {} privileges {} life cycle {}",
            sd.identification,
            sd.instance_aid,
            sd.class_aid,
            sd.package_aid,
            sd.privileges,
            sd.life_cycle_state
        );
        for k in &sd.keys {
            println!("  key {k}");
        }
    }
    println!("files: {}", r.file_count);
    for u in &r.undecoded {
        println!(
            "undecoded PE #{} {} (id {}) at offset {} ({} bytes): {}",
            u.index,
            u.kind,
            opt(&u.identification),
            u.offset,
            u.length,
            u.error
                .as_deref()
                .unwrap_or("kept as bytes (PE type not decoded by smsr)")
        );
    }
    for p in &r.problems {
        println!("problem: {p}");
    }
}

//! Personalization of an existing package (the SM-DP's profile preparation): replace the ICCID
//! (ProfileHeader and EF.ICCID), the IMSI (EF.IMSI of the USIM), and K/OPc of the AKA
//! parameters. The PEs are changed as values and re-encoded, so every length around a changed
//! field follows.

use super::aka::{AlgoConfiguration, AlgorithmId};
use super::header::Service;
use super::identity::{iccid_ef, iccid_header, imsi_ef};
use super::package::{Package, ProfileElement};
use super::{PeKind, SaipError, SecretBytes};

impl Package {
    /// Sets the ICCID in the ProfileHeader and in EF.ICCID of the MF PE.
    pub fn set_iccid(&mut self, iccid: &str) -> Result<(), SaipError> {
        let header_form = iccid_header(iccid)?;
        let ef_form = iccid_ef(iccid)?;
        let mf = self
            .file_system_mut(PeKind::Mf)
            .ok_or(SaipError::Missing("decodable mf PE"))?;
        mf.file_mut("ef-iccid")
            .ok_or(SaipError::Missing("ef-iccid in the mf PE"))?
            .set_content(&ef_form);
        self.header_mut()
            .ok_or(SaipError::Missing("decodable header"))?
            .iccid = header_form;
        self.relayout();
        Ok(())
    }

    /// Sets the IMSI in EF.IMSI of the USIM PE.
    pub fn set_imsi(&mut self, imsi: &str) -> Result<(), SaipError> {
        let content = imsi_ef(imsi)?;
        let usim = self
            .file_system_mut(PeKind::Usim)
            .ok_or(SaipError::Missing("decodable usim PE"))?;
        usim.file_mut("ef-imsi")
            .ok_or(SaipError::Missing("ef-imsi in the usim PE"))?
            .set_content(&content);
        self.relayout();
        Ok(())
    }

    /// Replaces K and OPc in every akaParameter PE that carries its own algorithm parameters
    /// (the USIM's and, in TS.48, the ISIM's), keeping each algorithm. Returns how many PEs
    /// changed.
    pub fn set_aka_keys(&mut self, k: &[u8], opc: &[u8]) -> Result<usize, SaipError> {
        check_key("K", k)?;
        check_key("OPc", opc)?;
        let mut changed = 0;
        for e in &mut self.elements {
            if let ProfileElement::AkaParameter(aka) = &mut e.element {
                if let AlgoConfiguration::AlgoParameter(a) = &mut aka.algo_configuration {
                    a.key = SecretBytes::new(k);
                    a.opc = SecretBytes::new(opc);
                    changed += 1;
                }
            }
        }
        if changed == 0 {
            return Err(SaipError::Missing("akaParameter with algoParameter"));
        }
        self.relayout();
        Ok(changed)
    }

    /// Switches every algoParameter to MILENAGE with K and OPc, and updates the header's
    /// mandatory services: `milenage` added, `usim-test-algorithm` removed when no AKA PE uses
    /// it any more (SAIP §8.2: the services list names what the mandated PEs need).
    pub fn use_milenage(&mut self, k: &[u8; 16], opc: &[u8; 16]) -> Result<usize, SaipError> {
        let changed = self.set_aka_keys(k, opc)?;
        for e in &mut self.elements {
            if let ProfileElement::AkaParameter(aka) = &mut e.element {
                if let AlgoConfiguration::AlgoParameter(a) = &mut aka.algo_configuration {
                    a.algorithm_id = AlgorithmId::Milenage;
                }
            }
        }
        let header = self
            .header_mut()
            .ok_or(SaipError::Missing("decodable header"))?;
        header
            .mandatory_services
            .retain(|s| *s != Service::UsimTestAlgorithm);
        if !header.mandatory_services.contains(&Service::Milenage) {
            header.mandatory_services.push(Service::Milenage);
            header.mandatory_services.sort();
        }
        self.relayout();
        Ok(changed)
    }
}

fn check_key(what: &'static str, k: &[u8]) -> Result<(), SaipError> {
    if k.len() != 16 && k.len() != 32 {
        return Err(SaipError::InvalidValue {
            what,
            reason: format!("{} bytes; 16 (or 32 for TUAK-256) required", k.len()),
        });
    }
    Ok(())
}

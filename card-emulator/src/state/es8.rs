//! The card state of key establishment and OTA: the ECASD's keys (what the EUM put there), the
//! ISD-R's SCP80 key sets, and the SCP03 key sets ES8 gave ISD-Ps (SGP.02 §3.1.x, §4.1.3.x).

use super::{new_scp03_for, CardState, Scp80KeySet};
use crate::ecasd::EcasdKeys;
use smsr_proto::gp::life_cycle;
use smsr_proto::scp03::{Scp03Card, ScpOptions, StaticKeys};
use smsr_proto::sgp02::codings::{SW_ES8_STATE, SW_UNKNOWN_ISD_P};
use smsr_proto::StatusWord;

/// Which reading of the ES8 open points the card follows when it derives an ISD-P's keys and
/// its receipt ([`smsr_proto::ecka::EckaVariant`]): the default one (the README's
/// assumptions), or njiwa's (one key, padded receipt input), a card to try `smsr keys
/// establish --probe` on. Either accepts `3A01` with a DGI or a BER length.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EckaReading {
    #[default]
    Default,
    Njiwa,
}

impl EckaReading {
    /// The readings by name, as the state file and `euicc-emulator init` write them.
    pub const ALL: [(Self, &'static str); 2] = [(Self::Default, "default"), (Self::Njiwa, "njiwa")];

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(r, _)| *r == self)
            .map_or("default", |(_, n)| n)
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(_, n)| *n == name).map(|(r, _)| *r)
    }

    /// The card side's configuration of this reading.
    pub fn variant(self) -> smsr_proto::ecka::EckaVariant {
        match self {
            Self::Default => smsr_proto::ecka::EckaVariant::default(),
            Self::Njiwa => smsr_proto::ecka::EckaVariant::njiwa(),
        }
    }
}

impl CardState {
    /// The reading of the ES8 open points this card follows.
    pub fn ecka_reading(&self) -> EckaReading {
        self.ecka_reading
    }

    /// Makes the card follow another reading of the ES8 open points (tests of the SM-DP's
    /// probe).
    pub fn set_ecka_reading(&mut self, reading: EckaReading) {
        self.ecka_reading = reading;
    }

    /// The ECASD's keys, if the EUM personalized them.
    pub fn ecasd_keys(&self) -> Option<&EcasdKeys> {
        self.ecasd.as_ref()
    }

    /// Puts the ECASD's keys in (the EUM's personalization).
    pub fn set_ecasd_keys(&mut self, keys: EcasdKeys) {
        self.ecasd = Some(keys);
    }

    /// The ISD-R's SCP80 key sets, with the counter of the last accepted packet.
    pub fn scp80_keysets(&self) -> &[Scp80KeySet] {
        &self.scp80
    }

    /// Write access to the ISD-R's SCP80 key sets (counters move with each packet).
    pub fn scp80_keysets_mut(&mut self) -> &mut Vec<Scp80KeySet> {
        &mut self.scp80
    }

    /// The ISD-R's SCP81 (PSK-TLS) key sets.
    pub fn scp81_keysets(&self) -> &[super::Scp81KeySet] {
        &self.scp81
    }

    /// Write access to the ISD-R's SCP81 key sets.
    pub fn scp81_keysets_mut(&mut self) -> &mut Vec<super::Scp81KeySet> {
        &mut self.scp81
    }

    /// Whether the registry holds a personalized ISD-P (past SELECTABLE) with this AID: only
    /// such an ISD-P has keys. A key set left from a deleted ISD-P whose AID CreateISDP gave
    /// again (SELECTABLE) is so never used, and the state file drops it.
    fn keyed_isd_p(&self, aid: &[u8]) -> bool {
        self.registry
            .isd_p(aid)
            .is_some_and(|(record, _)| record.life_cycle != life_cycle::SELECTABLE)
    }

    /// The SCP03 configuration of a personalized ISD-P (`None` for an ISD-P without keys and
    /// for an AID that is no ISD-P of the registry).
    pub fn isd_p_scp03(&self, aid: &[u8]) -> Option<&Scp03Card> {
        if !self.keyed_isd_p(aid) {
            return None;
        }
        self.isd_p_scp03.get(aid)
    }

    pub(crate) fn isd_p_scp03_mut(&mut self, aid: &[u8]) -> Option<&mut Scp03Card> {
        if !self.keyed_isd_p(aid) {
            return None;
        }
        self.isd_p_scp03.get_mut(aid)
    }

    /// The ISD-P key sets of the registry's ISD-Ps (the state file's `isd_p_keys`).
    pub(crate) fn isd_p_scp03_all(&self) -> impl Iterator<Item = (&Vec<u8>, &Scp03Card)> {
        self.isd_p_scp03
            .iter()
            .filter(|(aid, _)| self.keyed_isd_p(aid))
    }

    /// Restores an ISD-P key set from the state file.
    pub(crate) fn restore_isd_p_scp03(&mut self, aid: Vec<u8>, card: Scp03Card) {
        self.isd_p_scp03.insert(aid, card);
    }

    /// The end of ES8 key establishment: the ISD-P gets `keys` as its SCP03 key set (with the
    /// SCP03 "i" CreateISDP gave it, the card's KDD, counter 0) and goes from SELECTABLE (`07`)
    /// to PERSONALIZED (`0F`). Refused with [`SW_UNKNOWN_ISD_P`] for an unknown ISD-P and
    /// [`SW_ES8_STATE`] for one that is not SELECTABLE.
    pub fn personalize_isd_p(&mut self, aid: &[u8], keys: StaticKeys) -> Result<(), StatusWord> {
        let (record, data) = self.registry.isd_p(aid).ok_or(SW_UNKNOWN_ISD_P)?;
        if record.life_cycle != life_cycle::SELECTABLE {
            return Err(SW_ES8_STATE);
        }
        let options = ScpOptions::from_i(data.scp03_i).map_err(|_| SW_ES8_STATE)?;
        let mut card = new_scp03_for(aid, options, self.kdd).map_err(|_| SW_ES8_STATE)?;
        card.add_keyset(keys, 0);
        let record = self.registry.find_mut(aid).ok_or(SW_UNKNOWN_ISD_P)?;
        record.life_cycle = life_cycle::PERSONALIZED;
        self.isd_p_scp03.insert(aid.to_vec(), card);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use smsr_proto::gp::Aid;

    #[test]
    fn keys_of_a_deleted_isd_p_do_not_come_back_with_its_aid() {
        let aid = Aid::isd_p(0x10).unwrap();
        let mut st = CardState::new(None);
        let created = || crate::isd_p::IsdP::created(0x70, None, None);
        st.create_isd_p(aid.clone(), created()).unwrap();
        let keys = StaticKeys::new(0x30, &[1; 16], &[2; 16], &[3; 16]).unwrap();
        st.personalize_isd_p(aid.as_bytes(), keys.clone()).unwrap();
        assert!(st.isd_p_scp03(aid.as_bytes()).is_some());
        assert_eq!(
            st.personalize_isd_p(aid.as_bytes(), keys.clone()),
            Err(SW_ES8_STATE)
        );
        st.registry_mut().remove(aid.as_bytes()).unwrap();
        assert!(st.isd_p_scp03(aid.as_bytes()).is_none());
        st.create_isd_p(aid.clone(), created()).unwrap();
        assert!(st.isd_p_scp03(aid.as_bytes()).is_none());
        assert!(!st.to_json().contains("isd_p_keys"));
        let unknown = Aid::isd_p(0x11).unwrap();
        assert_eq!(
            st.personalize_isd_p(unknown.as_bytes(), keys),
            Err(SW_UNKNOWN_ISD_P)
        );
    }
}

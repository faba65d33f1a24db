//! ES8 through an SM-SR service: an [`Es5Link`] whose scripts go out as ES3.SendData
//! ([`crate::sm_sr::relay`] is the other end). The SM-DP then runs the very same key
//! establishment and SCP03t download ([`super::es8`]) it runs over a link of its own, and never
//! touches the card.
//!
//! - [`Es5Link::run`] (C-APDUs for the ISD-R: INSTALL [for personalization] and the STORE DATA
//!   of key establishment) sends them as a command script addressed to the ISD-R and reads
//!   the R-APDUs back from the response script;
//! - [`Es5Link::run_script`] (SCP03t scripts) sends the script to the ISD-P as it is.

use crate::sm_sr::es5::{Es5Error, Es5Link};
use smsr_proto::gp::aid::Aid;
use smsr_proto::ota::response::ResponseScript;
use smsr_proto::ota::script::CommandScript;
use smsr_proto::{CommandApdu, ResponseApdu};

/// ES3.SendData as the SM-DP calls it: the data for `sd_aid` out, the card's response script
/// back. A failure is [`Es5Error::Relay`] with the SM-SR's answer.
pub trait SendData {
    fn send_data(&mut self, sd_aid: &Aid, script: &[u8]) -> Result<Vec<u8>, Es5Error>;
}

/// An ES5 link made of ES3.SendData calls.
#[derive(Debug)]
pub struct Es3Link<P> {
    port: P,
    isd_r: Aid,
}

impl<P: SendData> Es3Link<P> {
    /// A link to the card whose ISD-R is `isd_r` (from its EIS), through `port`.
    pub fn new(port: P, isd_r: Aid) -> Self {
        Self { port, isd_r }
    }

    /// The port.
    pub fn port(&self) -> &P {
        &self.port
    }

    /// The port, back.
    pub fn into_port(self) -> P {
        self.port
    }

    fn answer(&mut self, sd_aid: &Aid, script: &CommandScript) -> Result<ResponseScript, Es5Error> {
        let bytes = script
            .to_bytes()
            .map_err(|e| Es5Error::Input(format!("ES8 script: {e}")))?;
        let answer = self.port.send_data(sd_aid, &bytes)?;
        ResponseScript::parse(&answer).map_err(|e| {
            Es5Error::BadResponse(format!("the response script the SM-SR relayed: {e}"))
        })
    }
}

impl<P: SendData> Es5Link for Es3Link<P> {
    fn run(&mut self, commands: &[CommandApdu]) -> Result<Vec<ResponseApdu>, Es5Error> {
        let script = CommandScript::of_apdus(commands.iter().cloned());
        let isd_r = self.isd_r.clone();
        let answer = self.answer(&isd_r, &script)?;
        Ok(answer.response_apdus().cloned().collect())
    }

    fn reset(&mut self) -> Result<(), Es5Error> {
        Err(Es5Error::Input(
            "the SM-DP cannot reset a card: ES3 has no such function".into(),
        ))
    }

    fn run_script(
        &mut self,
        target: &Aid,
        script: &CommandScript,
    ) -> Result<ResponseScript, Es5Error> {
        self.answer(target, script)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use smsr_proto::ota::response::ResponseTlv;
    use smsr_proto::ota::script::LengthForm;
    use smsr_proto::StatusWord;

    /// Answers every C-APDU of a script with 9000 and records what it was sent.
    #[derive(Default)]
    struct Echo {
        sent: Vec<(Vec<u8>, Vec<u8>)>,
    }

    impl SendData for Echo {
        fn send_data(&mut self, sd_aid: &Aid, script: &[u8]) -> Result<Vec<u8>, Es5Error> {
            self.sent
                .push((sd_aid.as_bytes().to_vec(), script.to_vec()));
            let parsed = CommandScript::parse(script).unwrap();
            let n = parsed.items.len();
            Ok(ResponseScript {
                form: LengthForm::Definite,
                executed: u8::try_from(n).unwrap(),
                items: (0..n)
                    .map(|_| ResponseTlv::Apdu(ResponseApdu::new(vec![0x42], StatusWord::Success)))
                    .collect(),
            }
            .to_bytes())
        }
    }

    #[test]
    fn apdus_for_the_isd_r_travel_as_a_script_and_come_back_as_r_apdus() {
        let isd_r = Aid::new(&smsr_proto::gp::aid::ISD_R).unwrap();
        let mut link = Es3Link::new(Echo::default(), isd_r.clone());
        let c = CommandApdu::new(0x80, 0xE2, 0x91, 0x00).with_data(vec![0x3A, 0x01, 0x00]);
        let r = link.run(&[c.clone(), c.clone()]).unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].data, vec![0x42]);
        let port = link.into_port();
        assert_eq!(port.sent[0].0, isd_r.as_bytes());
        let script = CommandScript::parse(&port.sent[0].1).unwrap();
        assert_eq!(script, CommandScript::of_apdus([c.clone(), c]));
    }

    #[test]
    fn a_reset_is_refused() {
        let isd_r = Aid::new(&smsr_proto::gp::aid::ISD_R).unwrap();
        let mut link = Es3Link::new(Echo::default(), isd_r);
        assert!(matches!(link.reset(), Err(Es5Error::Input(_))));
    }
}

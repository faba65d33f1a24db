//! One whole SGP.02 download of a profile into a registered card when one process plays both
//! roles (`smsr provision`): CreateISDP (SM-SR, ES5), key establishment and SCP03t download
//! (SM-DP, ES8 over the SM-SR's link), EnableProfile with a reset, the notifications, and the
//! proof that the profile's credentials work. Each step is timed with the APDUs and bytes it
//! exchanged ([`Step`]).
//!
//! The caller supplies the card: `connect` opens the ES5 link to the card the EID names, and
//! `check` reaches the enabled profile's USIM afterwards. Errors are the caller's own type, so
//! the command line keeps its exit codes.

use super::es8::{self, Es8Error, ProfileCheck, SmDp};
use crate::sm_sr::es5::{self, Es5Error, Es5Link, ProfileChange};
use crate::sm_sr::isdp::IsdpState;
use crate::sm_sr::registry::{Registry, RegistryError};
use crate::transport::count::Counts;
use serde::Serialize;
use smsr_proto::gp::aid::Aid;
use smsr_proto::gp::get_data::Eid;
use smsr_proto::saip::identity::iccid_from_header;
use smsr_proto::saip::Package;
use std::time::Instant;

/// One step, how long it took and what it exchanged with the card.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Step {
    pub step: String,
    pub ms: f64,
    /// APDU exchanges with the card (GET RESPONSE included).
    pub apdus: u64,
    /// Command and response bytes.
    pub bytes: u64,
    /// Share of the total time, in percent.
    pub share: f64,
    /// More than 20 % of the total.
    pub bottleneck: bool,
    pub detail: String,
}

/// What a provisioning did.
#[derive(Debug, Serialize)]
pub struct Provisioned {
    pub eid: Eid,
    pub isdp: Option<Aid>,
    pub iccid: Option<String>,
    pub steps: Vec<Step>,
    pub total_ms: f64,
    pub apdus: u64,
    pub bytes: u64,
    pub check: Option<ProfileCheck>,
}

/// Times steps and counts their card exchanges (the counts of this thread's cards).
#[derive(Debug, Default)]
pub struct Timer {
    pub steps: Vec<Step>,
    /// The step that failed, if one did.
    pub failed: Option<(String, f64)>,
}

impl Timer {
    /// Runs one step: `f` returns its value and a one-line detail.
    pub fn run<T, E>(
        &mut self,
        step: &str,
        f: impl FnOnce() -> Result<(T, String), E>,
    ) -> Result<T, E> {
        self.record(step, Counts::snapshot(), f)
    }

    /// Records a step whose card exchanges are known otherwise (a service reports them).
    pub fn push(&mut self, step: &str, ms: f64, apdus: u64, bytes: u64, detail: String) {
        self.steps.push(Step {
            step: step.to_owned(),
            ms,
            apdus,
            bytes,
            share: 0.0,
            bottleneck: false,
            detail,
        });
    }

    fn record<T, E>(
        &mut self,
        step: &str,
        before: Counts,
        f: impl FnOnce() -> Result<(T, String), E>,
    ) -> Result<T, E> {
        let t = Instant::now();
        crate::progress::step(step);
        let result = f();
        crate::progress::end();
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        let counts = Counts::snapshot().since(before);
        match result {
            Ok((v, detail)) => {
                self.push(step, ms, counts.exchanges, counts.bytes, detail);
                Ok(v)
            }
            Err(e) => {
                tracing::warn!("provision stopped at {step} after {ms:.1} ms");
                self.failed = Some((step.to_owned(), ms));
                Err(e)
            }
        }
    }

    /// Fills in each step's share of `total_ms` and the bottleneck mark (> 20 %).
    pub fn finish(&mut self, total_ms: f64) {
        for s in &mut self.steps {
            s.share = if total_ms > 0.0 {
                100.0 * s.ms / total_ms
            } else {
                0.0
            };
            s.bottleneck = s.share > 20.0;
        }
    }
}

/// What to provision and how.
#[derive(Debug)]
pub struct Order<'a> {
    pub eid: Eid,
    /// The package as the SM-DP sends it.
    pub der: &'a [u8],
    pub package: &'a Package,
    /// Enable the profile, read the notifications and check it (`false`: leave it DISABLED).
    pub enable: bool,
}

/// The ICCID a package's header names, if it names a valid one.
pub fn package_iccid(package: &Package) -> Option<String> {
    package
        .header()
        .and_then(|h| iccid_from_header(&h.iccid).ok())
}

/// Provisions `order.package` into the card: see the module documentation. On failure the
/// timer's `failed` names the step.
pub fn provision<E>(
    registry: &mut Registry,
    dp: &SmDp,
    order: &Order<'_>,
    timer: &mut Timer,
    connect: impl FnOnce(&Registry) -> Result<Box<dyn Es5Link>, E>,
    check: impl FnOnce(&Package) -> Result<ProfileCheck, E>,
) -> Result<Provisioned, E>
where
    E: From<Es8Error> + From<Es5Error> + From<RegistryError>,
{
    let start = Instant::now();
    let eid = &order.eid;
    let iccid = package_iccid(order.package);
    let eis = registry.eis(eid)?;
    // A profile already on the card is refused before the card is reached (create-isdp would
    // refuse it too, after the connection).
    if let Some(iccid) = &iccid {
        es5::check_iccid_free(registry, eid, iccid)?;
    }
    let mut link = timer.run("connect", || {
        let link = connect(registry)?;
        Ok::<_, E>((link, format!("EID {eid} checked")))
    })?;
    // A provisioning of this profile that stopped before its download leaves an ISD-P without a
    // profile: it goes before the new one is created.
    let leftovers: Vec<_> = registry
        .isdps(eid)?
        .into_iter()
        .filter(|r| r.iccid.is_some() && r.iccid == iccid && r.state.is_half_provisioned())
        .collect();
    if !leftovers.is_empty() {
        timer.run("clean-up", || {
            for r in &leftovers {
                es5::delete_isdp(registry, link.as_mut(), eid, r)?;
            }
            let d = format!(
                "{} half-provisioned ISD-P(s) of this ICCID deleted",
                leftovers.len()
            );
            Ok::<_, E>(((), d))
        })?;
    }
    let created = timer.run("create-isdp", || {
        let c = es5::create_isdp(registry, link.as_mut(), eid, iccid.as_deref(), None)?;
        let d = format!("ISD-P {}", c.aid);
        Ok::<_, E>((c, d))
    })?;
    let aid = created.aid;
    let keys = timer.run("establish-keys", || {
        registry.begin(eid, &aid, "establish-keys")?;
        match es8::establish_keys(link.as_mut(), &eis, dp, &aid) {
            Ok(k) => {
                registry.settle(eid, &aid, Some(IsdpState::Personalized), "ok")?;
                let d = format!("ISD-P key set {:02X}, receipt verified", k.keys.kvn());
                Ok::<_, E>((k, d))
            }
            Err(e @ Es8Error::ReceiptMismatch(_)) => {
                // The card personalized the ISD-P, with keys the SM-DP does not know: the
                // registry says so, and a retry deletes it as half-provisioned.
                let note = format!("keys unknown to the SM-DP: {e}");
                registry.settle(eid, &aid, Some(IsdpState::Personalized), &note)?;
                Err(E::from(e))
            }
            Err(e) => {
                registry.abandon(eid, &aid, &e.to_string())?;
                Err(E::from(e))
            }
        }
    })?;
    timer.run("download", || {
        registry.begin(eid, &aid, "download")?;
        match es8::download(link.as_mut(), &aid, &keys, order.der) {
            Ok(d) => {
                registry.settle(eid, &aid, Some(IsdpState::Disabled), "ok")?;
                let detail = format!(
                    "{} bytes in {} segment(s), {} PE(s) ok",
                    order.der.len(),
                    d.segments,
                    d.pe_status.len()
                );
                Ok::<_, E>(((), detail))
            }
            Err(e) => {
                registry.abandon(eid, &aid, &e.to_string())?;
                Err(E::from(e))
            }
        }
    })?;
    let mut checked = None;
    if order.enable {
        timer.run("enable", || {
            let record = registry.isdp(eid, &aid)?;
            es5::change_profile(
                registry,
                link.as_mut(),
                eid,
                &record,
                ProfileChange::Enable,
                true,
            )?;
            Ok::<_, E>(((), "enabled, card reset".to_owned()))
        })?;
        timer.run("notifications", || {
            let n = es5::handle_notifications(registry, link.as_mut(), eid)?;
            Ok::<_, E>(((), format!("{} confirmed", n.len())))
        })?;
        drop(link);
        let result = timer.run("check", || {
            let r = check(order.package)?;
            let d = format!(
                "USIM IMSI {}, AUTHENTICATE RES/CK/IK verified{}",
                r.imsi,
                if r.resynchronised {
                    " after re-synchronisation"
                } else {
                    ""
                }
            );
            Ok::<_, E>((r, d))
        })?;
        checked = Some(result);
    }
    let total_ms = start.elapsed().as_secs_f64() * 1000.0;
    timer.finish(total_ms);
    let steps = std::mem::take(&mut timer.steps);
    Ok(Provisioned {
        eid: *eid,
        isdp: Some(aid),
        iccid,
        apdus: steps.iter().map(|s| s.apdus).sum(),
        bytes: steps.iter().map(|s| s.bytes).sum(),
        steps,
        total_ms,
        check: checked,
    })
}

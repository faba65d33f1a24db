//! The flows a goose user runs, one per loop of its transaction: claim a start from the
//! schedule, take a card and an ICCID, call the functions in order, record, give the card
//! back. The run ends itself (goose's killswitch) once the schedule is over and no flow is
//! left running; a stress run's schedule is cut when a finished stage broke a threshold.

use crate::args::Scenario;
use crate::call::{self, Called, Caller};
use crate::plan::{lock, CardPool, Held, Iccids, Pacer, Slot};
use crate::record::{Outcome, Recorder};
use goose::prelude::*;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The steps of a DownloadProfile with enable, in order (the smoke check).
pub const DOWNLOAD_STEPS: [&str; 6] = [
    "get-eis",
    "create-isdp",
    "establish-keys",
    "download",
    "download-completed",
    "enable",
];

/// Everything the users share.
#[derive(Debug)]
pub struct Run {
    pub scenario: Scenario,
    /// The SM-DP instances (user i calls the i-th modulo their number).
    pub sm_dp: Vec<String>,
    /// The SM-SR instances, as `sm_dp`.
    pub sm_sr: Vec<String>,
    pub caller: Caller,
    /// The operator's mutual-TLS configuration (ring provider, our CA only).
    pub tls: rustls::ClientConfig,
    pub pacer: Pacer,
    pub cards: CardPool,
    pub iccids: Iccids,
    pub recorder: Recorder,
    pub enable: bool,
    pub max_error_rate: f64,
    pub p99_ms: f64,
    calls: AtomicU64,
    /// Stress: the next stage to judge.
    judged: Mutex<usize>,
}

/// The instance of `urls` user `user` calls.
fn of<'a>(urls: &'a [String], user: &GooseUser) -> &'a str {
    &urls[user.weighted_users_index % urls.len().max(1)]
}

impl Run {
    /// The SM-DP `user` calls.
    pub fn sm_dp(&self, user: &GooseUser) -> String {
        of(&self.sm_dp, user).to_owned()
    }

    /// The SM-SR `user` calls.
    pub fn sm_sr(&self, user: &GooseUser) -> String {
        of(&self.sm_sr, user).to_owned()
    }

    #[allow(clippy::too_many_arguments)]
    pub fn new(
        scenario: Scenario,
        sm_dp: Vec<String>,
        sm_sr: Vec<String>,
        caller: Caller,
        tls: rustls::ClientConfig,
        pacer: Pacer,
        cards: CardPool,
        iccids: Iccids,
        enable: bool,
        thresholds: (f64, f64),
    ) -> Self {
        Self {
            scenario,
            sm_dp,
            sm_sr,
            caller,
            tls,
            pacer,
            cards,
            iccids,
            recorder: Recorder::new(Instant::now()),
            enable,
            max_error_rate: thresholds.0,
            p99_ms: thresholds.1,
            calls: AtomicU64::new(0),
            judged: Mutex::new(0),
        }
    }

    /// Calls a function and records it (`due`: when the schedule wanted it sent).
    async fn op(
        &self,
        user: &mut GooseUser,
        base: &str,
        function: &str,
        fields: Value,
        due: Option<Instant>,
    ) -> Called {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        let c = call::call(&self.caller, user, base, function, fields, n).await;
        let name = function.trim_start_matches('/').replacen('/', ".", 1);
        self.recorder
            .operation(&name, due.unwrap_or(c.sent), c.sent, c.end, &c.outcome);
        c
    }

    /// ES2.DownloadProfile of `iccid` to `eid` at the user's SM-DP, with or without enable.
    async fn download_profile(
        &self,
        user: &mut GooseUser,
        eid: &str,
        iccid: &str,
        enable: bool,
        due: Option<Instant>,
    ) -> Called {
        let fields = json!({"eid": eid, "iccid": iccid, "enableProfile": enable});
        let sm_dp = self.sm_dp(user);
        self.op(user, &sm_dp, "/es2/DownloadProfile", fields, due)
            .await
    }

    /// Ends the run when the schedule is over and nothing runs.
    fn finish_if_idle(&self) {
        if self.pacer.is_stopped() && self.recorder.in_flight() == 0 {
            goose::trigger_killswitch("the schedule is over and every flow ended");
        }
    }

    /// Stress: judges each stage whose flows all ended; a stage past a threshold stops the
    /// ramp.
    fn judge_stages(&self) {
        if self.scenario != Scenario::Stress {
            return;
        }
        let mut next = lock(&self.judged);
        while *next < self.pacer.stages().len() && self.pacer.stage_ended(*next) {
            let s = self.recorder.stage(*next);
            if s.ended < s.started {
                break;
            }
            #[allow(clippy::cast_precision_loss)]
            let error_rate = if s.started > 0 {
                s.errors as f64 * 100.0 / s.started as f64
            } else {
                0.0
            };
            if error_rate > self.max_error_rate {
                self.pacer.stop(&format!(
                    "stage {} broke the error-rate threshold ({error_rate:.1}% > {}%)",
                    *next, self.max_error_rate
                ));
            } else if s.p99_ms > self.p99_ms {
                self.pacer.stop(&format!(
                    "stage {} broke the p99 threshold ({:.0} ms > {} ms)",
                    *next, s.p99_ms, self.p99_ms
                ));
            }
            *next += 1;
        }
    }
}

/// One loop of a user.
pub async fn flow(run: &Run, user: &mut GooseUser) -> TransactionResult {
    let Some(slot) = run.pacer.claim(Instant::now()) else {
        run.finish_if_idle();
        tokio::time::sleep(Duration::from_millis(100)).await;
        return Ok(());
    };
    run.recorder.flow_started(slot.stage);
    tokio::time::sleep_until(slot.due.into()).await;
    let ok = match run.cards.take().await {
        Some(held) => {
            let (ok, held) = match run.scenario {
                Scenario::Smoke => smoke(run, user, slot, held).await,
                Scenario::Performance | Scenario::Stress => download(run, user, slot, held).await,
                Scenario::Lifecycle => lifecycle(run, user, slot, held).await,
            };
            run.cards.give(held);
            ok
        }
        None => false,
    };
    run.recorder
        .flow_ended(slot.stage, slot.due, Instant::now(), ok);
    run.judge_stages();
    run.finish_if_idle();
    Ok(())
}

/// The next ICCID, or the schedule stopped for want of one.
fn iccid(run: &Run) -> Option<String> {
    let i = run.iccids.take();
    if i.is_none() {
        run.pacer
            .stop("the stock ran out of profiles (give --stock-db or a longer --iccids list)");
    }
    i
}

async fn download(run: &Run, user: &mut GooseUser, slot: Slot, held: Held) -> (bool, Held) {
    let Some(iccid) = iccid(run) else {
        return (false, held);
    };
    let c = run
        .download_profile(user, &held.card.eid, &iccid, run.enable, Some(slot.due))
        .await;
    if c.outcome == Outcome::Success {
        run.recorder.steps(slot.stage, &c.answer);
    }
    (c.outcome == Outcome::Success, held)
}

/// A download with enable whose every step is checked, then the card audited.
async fn smoke(run: &Run, user: &mut GooseUser, slot: Slot, held: Held) -> (bool, Held) {
    let Some(iccid) = iccid(run) else {
        return (false, held);
    };
    let eid = held.card.eid.clone();
    let c = run
        .download_profile(user, &eid, &iccid, true, Some(slot.due))
        .await;
    if let Outcome::Failure { code, message } = &c.outcome {
        run.recorder
            .check_failed(format!("es2.DownloadProfile: {code}: {message}"));
        return (false, held);
    }
    run.recorder.steps(slot.stage, &c.answer);
    for problem in check_download(&c.answer) {
        run.recorder.check_failed(problem);
    }
    let a = run
        .op(
            user,
            &run.sm_sr(user),
            "/es4/AuditEIS",
            json!({"eid": eid}),
            None,
        )
        .await;
    let enabled = a.answer["isdPs"].as_array().into_iter().flatten().any(|i| {
        i["iccid"].as_str() == Some(iccid.as_str()) && i["state"].as_str() == Some("enabled")
    });
    if !enabled {
        run.recorder.check_failed(format!(
            "es4.AuditEIS: the card does not show ICCID {iccid} enabled: {}",
            a.answer["isdPs"]
        ));
    }
    (run.recorder.failed_checks().is_empty(), held)
}

/// What is wrong with a DownloadProfile-with-enable result.
pub fn check_download(answer: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let steps: Vec<&Value> = answer["steps"].as_array().into_iter().flatten().collect();
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    if names != DOWNLOAD_STEPS {
        problems.push(format!("steps are {names:?}, expected {DOWNLOAD_STEPS:?}"));
    }
    for s in &steps {
        let name = s["step"].as_str().unwrap_or("?");
        if !s["ms"].as_f64().is_some_and(|ms| ms > 0.0) {
            problems.push(format!("step {name}: no time"));
        }
        let card_step = matches!(
            name,
            "create-isdp" | "establish-keys" | "download" | "enable"
        );
        if card_step && s["apdus"].as_u64().is_none_or(|n| n == 0) {
            problems.push(format!("step {name}: no APDU counted"));
        }
    }
    if !answer["totalMs"].as_f64().is_some_and(|t| t > 0.0) {
        problems.push("no totalMs".into());
    }
    if answer["apdus"].as_u64().is_none_or(|n| n == 0) {
        problems.push("no APDUs counted".into());
    }
    if answer["isdPAid"].as_str().is_none_or(|a| a.len() != 32) {
        problems.push(format!("isdPAid {} is not an AID", answer["isdPAid"]));
    }
    problems
}

/// First on a card: a base profile, enabled and made the fallback. Then one cycle:
/// download, enable, audit, disable (the base takes over), delete.
async fn lifecycle(run: &Run, user: &mut GooseUser, slot: Slot, mut held: Held) -> (bool, Held) {
    let eid = held.card.eid.clone();
    let mut due = Some(slot.due);
    if held.card.base.is_none() {
        let Some(base) = iccid(run) else {
            return (false, held);
        };
        let target = json!({"eid": eid, "iccid": base});
        let c = run
            .download_profile(user, &eid, &base, true, due.take())
            .await;
        if c.outcome != Outcome::Success {
            return (false, held);
        }
        run.recorder.steps(slot.stage, &c.answer);
        let c = run
            .op(
                user,
                &run.sm_sr(user),
                "/es4/SetFallBackAttribute",
                target,
                None,
            )
            .await;
        if c.outcome != Outcome::Success {
            return (false, held);
        }
        held.card.base = Some(base);
    }
    let Some(x) = iccid(run) else {
        return (false, held);
    };
    let target = json!({"eid": eid, "iccid": x});
    let c = run
        .download_profile(user, &eid, &x, false, due.take())
        .await;
    if c.outcome != Outcome::Success {
        return (false, held);
    }
    run.recorder.steps(slot.stage, &c.answer);
    let sr = run.sm_sr(user);
    let cycle: [(&str, &str, Value); 4] = [
        (sr.as_str(), "/es4/EnableProfile", target.clone()),
        (sr.as_str(), "/es4/AuditEIS", json!({"eid": eid})),
        (sr.as_str(), "/es4/DisableProfile", target.clone()),
        (sr.as_str(), "/es4/DeleteProfile", target),
    ];
    for (base, function, fields) in cycle {
        if run.op(user, base, function, fields, None).await.outcome != Outcome::Success {
            return (false, held);
        }
    }
    (true, held)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_download_result_is_checked_step_by_step() {
        let steps: Vec<Value> = DOWNLOAD_STEPS
            .iter()
            .map(|s| {
                let apdus = u64::from(!matches!(*s, "get-eis" | "download-completed")) * 5;
                json!({"step": s, "ms": 3.5, "apdus": apdus})
            })
            .collect();
        let mut answer = json!({"steps": steps, "totalMs": 21.0, "apdus": 20,
            "isdPAid": "A0000005591010FFFFFFFF8900001000"});
        assert_eq!(check_download(&answer), Vec::<String>::new());
        answer["steps"][3]["apdus"] = json!(0);
        answer["steps"].as_array_mut().unwrap().pop();
        let problems = check_download(&answer);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("steps are"));
        assert!(problems[1].contains("download: no APDU"));
    }
}

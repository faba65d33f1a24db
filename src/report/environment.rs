//! Where a report's figures come from: the machine (`/proc/cpuinfo`, `/proc/meminfo`, the
//! kernel release), the build profile, the git commit of the working directory, and what the
//! producer adds (fleet size, store).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// The machine and the build.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Environment {
    pub cpu_model: String,
    /// Logical CPUs this process may use.
    pub cores: usize,
    pub memory_mb: u64,
    pub kernel: String,
    /// `debug` or `release`, of the binary that wrote the report.
    pub build_profile: String,
    /// `git rev-parse HEAD` in the working directory, with `-dirty` when it has changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub git_commit: Option<String>,
    /// The program and its version.
    pub tool: String,
    /// The command line.
    pub command_line: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet_size: Option<usize>,
    /// The stores behind the services (registry, stock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// `/proc/loadavg` (1, 5, 15 minutes) when the report was begun: other work on the
    /// machine shares its cores with what was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_average_before: Option<String>,
    /// The same when the run ended.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_average_after: Option<String>,
}

/// The 1, 5 and 15 minute load averages of `/proc/loadavg`.
pub fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let fields: Vec<&str> = text.split_whitespace().take(3).collect();
    (fields.len() == 3).then(|| fields.join(" "))
}

impl Environment {
    /// This machine, this build, this process.
    pub fn of_this_machine() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let program = std::env::args()
            .next()
            .map(|a| {
                Path::new(&a)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or(a)
            })
            .unwrap_or_else(|| "smsr".into());
        Self {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_mb: mem_total_kb(&meminfo).unwrap_or(0) / 1024,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|k| k.trim().to_owned())
                .unwrap_or_else(|_| std::env::consts::OS.into()),
            build_profile: if cfg!(debug_assertions) {
                "debug".into()
            } else {
                "release".into()
            },
            git_commit: git_commit(),
            tool: format!("{program} {}", env!("CARGO_PKG_VERSION")),
            command_line: std::env::args().collect::<Vec<_>>().join(" "),
            fleet_size: None,
            store: None,
            load_average_before: load_average(),
            load_average_after: None,
        }
    }
}

/// The first `model name` of a `/proc/cpuinfo` text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == "model name").then(|| v.trim().to_owned())
    })
}

/// `MemTotal` of a `/proc/meminfo` text, in kB.
fn mem_total_kb(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The commit of the work tree the running binary was built in (it lives under its
/// `target/`), else of the working directory; `None` without git or outside a work tree.
fn git_commit() -> Option<String> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    exe_dir
        .as_deref()
        .and_then(git_commit_in)
        .or_else(|| git_commit_in(Path::new(".")))
}

fn git_commit_in(dir: &Path) -> Option<String> {
    let run = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = run(&["rev-parse", "--short=12", "HEAD"]).filter(|c| !c.is_empty())?;
    let dirty =
        run(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_read() {
        let cpu = "processor\t: 0\nvendor_id\t: X\nmodel name\t: Some CPU @ 2.0GHz\n";
        assert_eq!(cpu_model(cpu).as_deref(), Some("Some CPU @ 2.0GHz"));
        let mem = "MemTotal:       24576000 kB\nMemFree: 1 kB\n";
        assert_eq!(mem_total_kb(mem), Some(24_576_000));
        assert_eq!(cpu_model(""), None);
        let e = Environment::of_this_machine();
        assert!(e.cores >= 1);
        assert!(["debug", "release"].contains(&e.build_profile.as_str()));
    }
}

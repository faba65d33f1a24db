//! What the unit tests of several modules share.

#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Whether the `openssl` tool runs; `false` (after saying so on stderr) when it does not, a
/// failure when `SMSR_REQUIRE_OPENSSL=1` (`scripts/test.sh` sets it and installs the tool).
pub fn openssl_present(test: &str) -> bool {
    match std::process::Command::new("openssl")
        .arg("version")
        .output()
    {
        Ok(out) if out.status.success() => true,
        outcome => {
            assert!(
                std::env::var("SMSR_REQUIRE_OPENSSL").as_deref() != Ok("1"),
                "{test}: SMSR_REQUIRE_OPENSSL=1 but `openssl version` did not run: {outcome:?}"
            );
            eprintln!("{test}: skipped: `openssl` is not on PATH (or does not run): {outcome:?}");
            false
        }
    }
}

//! Schemathesis (from PyPI) over the whole API, on SQLite and PostgreSQL:
//! every operation of `/api/v1/openapi.json` is called with generated valid
//! and invalid input, as an anonymous caller and with a token, and the run
//! fails on any 5xx, on a status code or body the document does not
//! describe, on invalid input that is accepted and on valid input that is
//! refused. Bounded in time (`OFFICEHOURS_FUZZ_SECS`, 60 s per database by
//! default); the seed is fixed so that a failure can be replayed. Longer or
//! other runs by hand: `OFFICEHOURS_FUZZ_SEED`, and `OFFICEHOURS_FUZZ_PHASES`
//! (schemathesis' `--phases`, e.g. `stateful`).

use crate::support;

use support::{TestServer, test_databases};

/// What a failed run found, shown as schemathesis wrote it. A test that
/// returns `Err` prints this last and without a backtrace, so the end of a
/// CI log (all that is sometimes kept) shows the findings themselves.
struct Findings(String);

impl std::fmt::Debug for Findings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The findings part of a report (from schemathesis' `FAILURES` heading on),
/// at most `lines` lines of it; the whole report when it has no such part.
fn findings(report: &str, lines: usize) -> String {
    let start = report.find("FAILURES").map_or(0, |at| report[..at].rfind('\n').map_or(0, |nl| nl + 1));
    let part: Vec<&str> = report[start..].lines().collect();
    let mut shown = part[..part.len().min(lines)].join("\n");
    if part.len() > lines {
        shown.push_str(&format!("\n… {} more lines", part.len() - lines));
    }
    shown
}

fn schemathesis_available() -> bool {
    std::process::Command::new("schemathesis").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_server_error_and_no_disagreement_with_the_document() -> Result<(), Findings> {
    if !support::require("schemathesis (pip install schemathesis)", schemathesis_available()) {
        return Ok(());
    }
    let seconds = std::env::var("OFFICEHOURS_FUZZ_SECS").unwrap_or_else(|_| "60".into());
    let seed = std::env::var("OFFICEHOURS_FUZZ_SEED").unwrap_or_else(|_| "1".into());
    let phases =
        std::env::var("OFFICEHOURS_FUZZ_PHASES").unwrap_or_else(|_| "examples,coverage,fuzzing,stateful".into());
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        // Something for the operations to find: an advisor (also an admin,
        // so every operation is open to the token) with availability, and a
        // learner's request for it.
        let admin = server.create_user("ada", true).await;
        let form = officehours::service::advisors::AdvisorForm { enabled: true, ..Default::default() };
        let advisor = server.app.save_advisor_profile(&admin, &form).await.unwrap().user;
        let learner = server.create_user("bob", false).await;
        let ada = server.api_as(&advisor).await;
        let day = server.day(2);
        let (status, block) = ada
            .post(
                "/api/v1/blocks",
                serde_json::json!({"start": format!("{day}T10:00"), "end": format!("{day}T11:00"), "timezone": "UTC"}),
            )
            .await;
        assert_eq!(status.as_u16(), 201, "{block}");
        let bob = server.api_as(&learner).await;
        let slot = block["slots"][0]["id"].as_i64().unwrap();
        let (status, body) = bob.post(&format!("/api/v1/slots/{slot}/requests"), serde_json::json!({})).await;
        assert_eq!(status.as_u16(), 201, "{body}");
        let token = ada.token.clone().expect("a token");

        // The server keeps answering on this runtime's other thread.
        let (url, seconds, seed, phases) =
            (server.url("/api/v1/openapi.json"), seconds.clone(), seed.clone(), phases.clone());
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new("schemathesis")
                .args(["run", &url])
                .args([
                    "--checks",
                    "all",
                    "--max-time",
                    &seconds,
                    "--seed",
                    &seed,
                    "--workers",
                    "2",
                    "--phases",
                    &phases,
                ])
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args(["--suppress-health-check", "all", "--no-color"])
                // Revoking tokens by id would revoke the run's own token and
                // leave the rest of the run anonymous (tests/tokens.rs covers it).
                .args(["--exclude-path-regex", "^/api/v1/tokens/"])
                .output()
        })
        .await
        .unwrap()
        .expect("run schemathesis");
        let report = String::from_utf8_lossy(&output.stdout);
        let errors = String::from_utf8_lossy(&output.stderr);
        // The whole report stays beside the build for a closer look.
        let saved = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("schemathesis-{}.txt", db.backend));
        let _ = std::fs::write(&saved, format!("{report}\n{errors}"));
        if !output.status.success() {
            let found = findings(&report, 120);
            return Err(Findings(format!(
                "[{}] schemathesis found problems ({}):\n{found}\n{errors}",
                db.backend,
                saved.display()
            )));
        }
        assert!(report.contains("passed"), "[{}] schemathesis ran nothing?\n{report}", db.backend);
    }
    Ok(())
}

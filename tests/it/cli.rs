//! The `officehours` binary as scripts and admins use it: `migrate`,
//! `user create`, `token create`, and `serve` with its layered configuration.

use crate::support;

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use support::{TestDatabase, test_databases};

const BIN: &str = env!("CARGO_BIN_EXE_officehours");

fn run(db: &TestDatabase, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(["--database-url", &db.url, "--data-dir", db.dir.path().to_str().unwrap()])
        .args(args)
        .env_remove("OFFICEHOURS_DATABASE_URL")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run officehours");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

/// Now on the wall clock: the CLI runs in its own process on the system
/// clock, so tokens it makes are checked against real time.
fn wall_now() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn migrate_user_create_and_token_create() {
    for db in test_databases().await {
        let out = run(&db, &["migrate"], "");
        assert!(out.status.success(), "[{}] {}", db.backend, text(&out.stderr));
        assert!(text(&out.stdout).contains("migrations applied"));

        let out = run(
            &db,
            &["user", "create", "--username", "Ada", "--email", "ada@example.org", "--advisor", "--admin"],
            "analytical engine notes\n",
        );
        assert!(out.status.success(), "[{}] {}", db.backend, text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "created @ada <ada@example.org>", "a piped password is not echoed");

        let store = db.store().await;
        let ada = store.user_by_username("ada").await.unwrap();
        assert!(ada.is_admin && ada.is_advisor && !ada.is_pro && ada.email_verified, "[{}]", db.backend);

        let weak = run(&db, &["user", "create", "--username", "bob", "--email", "bob@example.org"], "password1\n");
        assert!(!weak.status.success());
        assert!(text(&weak.stderr).contains("password: Use at least 10 characters"), "{}", text(&weak.stderr));
        let duplicate =
            run(&db, &["user", "create", "--username", "ada", "--email", "x@example.org"], "a long passphrase here\n");
        assert!(!duplicate.status.success());
        assert!(text(&duplicate.stderr).contains("username: That username is taken"), "{}", text(&duplicate.stderr));
        let empty = run(&db, &["user", "create", "--username", "carl", "--email", "c@example.org"], "");
        assert!(text(&empty.stderr).contains("no password on standard input"));
        assert_eq!(store.count_users().await.unwrap(), 1, "failed commands write nothing");

        let out = run(&db, &["token", "create", "--username", "ada"], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        let token = text(&out.stdout).trim().to_string();
        assert!(token.starts_with("oh_"));
        let hash = officehours::service::secrets::hash_secret(&token);
        assert_eq!(store.api_token_user(&hash, wall_now()).await.unwrap().map(|u| u.username), Some("ada".into()));
        let missing = run(&db, &["token", "create", "--username", "nobody"], "");
        assert!(!missing.status.success());
        assert!(text(&missing.stderr).contains("no account named `nobody`"));
    }
}

/// `token create USER --name … --expires-in-days …`, `token list USER`,
/// `token revoke USER ID`: secrets never listed, bad input writes nothing,
/// another account's id changes nothing.
#[tokio::test]
async fn token_create_list_and_revoke() {
    for db in test_databases().await {
        let tag = db.backend;
        for name in ["ada", "bob"] {
            let email = format!("{name}@example.org");
            let out = run(&db, &["user", "create", "--username", name, "--email", &email], "analytical engine notes\n");
            assert!(out.status.success(), "[{tag}] {}", text(&out.stderr));
        }
        let store = db.store().await;
        let ada = store.user_by_username("ada").await.unwrap();
        let bob = store.user_by_username("bob").await.unwrap();

        let out = run(&db, &["token", "list", "ada"], "");
        assert!(out.status.success(), "[{tag}] {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "@ada has no API tokens");

        let out = run(&db, &["token", "create", "ada", "--name", "deploy", "--expires-in-days", "30"], "");
        assert!(out.status.success(), "[{tag}] {}", text(&out.stderr));
        let secret = text(&out.stdout).trim().to_string();
        assert!(secret.starts_with("oh_"), "only the token on stdout: {secret}");
        let hash = officehours::service::secrets::hash_secret(&secret);
        assert_eq!(store.api_token_user(&hash, wall_now()).await.unwrap().map(|u| u.id), Some(ada.id), "[{tag}]");

        let empty = run(&db, &["token", "create", "ada", "--name", "  "], "");
        assert!(!empty.status.success());
        assert!(text(&empty.stderr).contains("name: Give the token a name"), "{}", text(&empty.stderr));
        let forever = run(&db, &["token", "create", "ada", "--name", "ci", "--expires-in-days", "400"], "");
        assert!(!forever.status.success());
        assert!(text(&forever.stderr).contains("expires_in_days: A token can expire after 1 to 365 days"));
        let nobody = run(&db, &["token", "list", "nobody"], "");
        assert!(text(&nobody.stderr).contains("no account named `nobody`"));
        assert_eq!(store.api_tokens_of(ada.id).await.unwrap().len(), 1, "[{tag}] bad input writes nothing");

        let out = run(&db, &["token", "list", "ada"], "");
        let listing = text(&out.stdout);
        let id = store.api_tokens_of(ada.id).await.unwrap()[0].id;
        assert!(listing.starts_with(&format!("{id}\tdeploy\tcreated ")), "[{tag}] {listing}");
        assert!(listing.contains("last used ") && listing.contains("expires "), "{listing}");
        assert!(!listing.contains("oh_") && !listing.contains("expires never"), "{listing}");

        let bobs = run(&db, &["token", "create", "bob"], "");
        assert!(bobs.status.success());
        let bob_id = store.api_tokens_of(bob.id).await.unwrap()[0].id;
        let foreign = run(&db, &["token", "revoke", "ada", &bob_id.to_string()], "");
        assert!(!foreign.status.success());
        assert!(text(&foreign.stderr).contains(&format!("@ada has no API token with id {bob_id}")));
        assert_eq!(store.api_tokens_of(bob.id).await.unwrap().len(), 1, "[{tag}] bob's token untouched");

        let out = run(&db, &["token", "revoke", "ada", &id.to_string()], "");
        assert!(out.status.success(), "[{tag}] {}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), format!("revoked token {id} “deploy” of @ada"));
        assert!(store.api_token_user(&hash, wall_now()).await.unwrap().is_none(), "[{tag}] revoked");
    }
}

#[test]
fn user_create_generates_a_password_at_a_terminal() {
    if !support::require(
        "the `script` command (util-linux) for a pseudo-terminal",
        Command::new("script").arg("--version").output().is_ok(),
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let command =
        format!("{BIN} --data-dir {} user create --username term --email term@example.org", dir.path().display());
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("OFFICEHOURS_DATABASE_URL")
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    let password =
        stdout.lines().find_map(|l| l.trim().strip_prefix("password: ")).expect("a generated password is printed");
    assert!(password.len() >= 20, "{password}");
}

async fn wait_ready(base: &str, child: &mut std::process::Child) {
    officehours::install_crypto();
    for _ in 0..200 {
        if let Ok(r) = reqwest::get(format!("{base}/readyz")).await
            && r.status() == 200
        {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("officehours exited early: {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("officehours did not become ready");
}

#[tokio::test]
async fn serve_layers_flags_over_environment_over_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let db_file = dir.path().join("secret-db.sqlite");
    let secret = dir.path().join("database-url");
    std::fs::write(&secret, format!("sqlite://{}?mode=rwc\n", db_file.display())).unwrap();
    let config = dir.path().join("officehours.toml");
    std::fs::write(&config, "domain = \"file.test\"\ninstance_name = \"From The File\"\n").unwrap();

    for (flag_domain, env_domain, expected) in [
        (None, None, "file.test"),
        (None, Some("env.test"), "env.test"),
        (Some("flag.test"), Some("env.test"), "flag.test"),
    ] {
        let port = support::free_port();
        let mut command = Command::new(BIN);
        command
            .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}"), "--config", config.to_str().unwrap()])
            .args(["--data-dir", dir.path().to_str().unwrap()])
            .env_remove("OFFICEHOURS_DATABASE_URL")
            .env_remove("OFFICEHOURS_DOMAIN")
            .env("OFFICEHOURS_DATABASE_URL_FILE", &secret)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(domain) = flag_domain {
            command.args(["--domain", domain]);
        }
        if let Some(domain) = env_domain {
            command.env("OFFICEHOURS_DOMAIN", domain);
        }
        let mut child = command.spawn().unwrap();
        let base = format!("http://127.0.0.1:{port}");
        wait_ready(&base, &mut child).await;
        let advisor: serde_json::Value =
            reqwest::get(format!("{base}/api/v1/advisors/amara")).await.unwrap().json().await.unwrap();
        assert_eq!(advisor["handle"], format!("@amara@{expected}"), "demo data present, domain from the right layer");
        let home = reqwest::get(&base).await.unwrap().text().await.unwrap();
        assert!(home.contains("From The File"), "instance name from the config file");
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(db_file.exists(), "the database URL came from OFFICEHOURS_DATABASE_URL_FILE");
}

#[test]
fn bad_configuration_is_reported_clearly() {
    let out = Command::new(BIN).args(["serve", "--database-url", "mysql://root@localhost/x"]).output().unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("unsupported database URL"), "{}", text(&out.stderr));
    let out = Command::new(BIN).args(["--database-url", "mysql://root@localhost/x"]).output().unwrap();
    assert!(text(&out.stderr).contains("unsupported database URL"), "no subcommand means serve");
    let out = Command::new(BIN).args(["serve", "--config", "/nonexistent/officehours.toml"]).output().unwrap();
    assert!(text(&out.stderr).contains("cannot read config file"), "{}", text(&out.stderr));
    // The federation test switch is refused outside test domains.
    let out = Command::new(BIN)
        .args(["serve", "--federation-test-mode", "--domain", "hours.example.org"])
        .env_remove("OFFICEHOURS_FEDERATION_TEST_MODE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("federation test suite only"), "{}", text(&out.stderr));
}

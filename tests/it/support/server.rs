//! An Officehours server running inside the test process on a real socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use officehours::clock::Clock;
use officehours::config::{Config, Overrides};
use std::sync::Arc;

use officehours::App;
use officehours::root::{self, Node};
use officehours::service::jobs::JobsRunning;
use officehours::storage::Store;
use tokio::sync::oneshot;

use super::{Browser, TestDatabase};

pub struct TestServer {
    pub app: App,
    /// The assembled application (its jobs can be run by hand).
    pub node: Arc<Node>,
    /// A connection of its own to the test's database, for checks.
    pub store: Store,
    _jobs: JobsRunning,
    /// The app's clock: manual, starting at the real time when the server
    /// started, and moving only when the test moves it ([`TestServer::advance`]).
    pub clock: Clock,
    pub addr: SocketAddr,
    pub base: String,
    pub backend: &'static str,
    outbox: PathBuf,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn start(db: &TestDatabase) -> TestServer {
        Self::start_with(db, |_| {}).await
    }

    /// Starts with a tweak to the configuration (e.g. an https public URL).
    pub async fn start_with(db: &TestDatabase, tweak: impl FnOnce(&mut Config)) -> TestServer {
        officehours::install_crypto();
        // Warnings and errors of the server show with a failing test's output.
        let _ = tracing_subscriber::fmt()
            .with_test_writer()
            .with_env_filter(std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .try_init();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let overrides = Overrides {
            database_url: Some(db.url.clone()),
            data_dir: Some(db.dir.path().to_path_buf()),
            bind: Some(addr),
            public_url: Some(format!("http://{addr}/")),
            ..Default::default()
        };
        let mut config = Config::resolve(overrides).expect("config");
        // Media on a loopback port of its own (many servers run at once).
        config.voice = officehours::voice::VoiceConfig::new("127.0.0.1:0".parse().unwrap(), None);
        tweak(&mut config);
        let outbox = config.outbox_dir();
        let clock = Clock::manual_from_now();
        let node = Arc::new(root::assemble_with_clock(config, clock.clone()).await.expect("app"));
        let app = node.app.clone();
        let jobs = node.spawn_jobs();
        let store = db.store().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = node.router();
        tokio::spawn(async move {
            let _ = officehours::serve(listener, router, async {
                let _ = stopped.await;
            })
            .await;
        });
        TestServer {
            app,
            node,
            store,
            _jobs: jobs,
            clock,
            addr,
            base: format!("http://{addr}"),
            backend: db.backend,
            outbox,
            stop: Some(stop),
        }
    }

    /// The app's current time.
    pub fn now(&self) -> jiff::Timestamp {
        self.clock.now()
    }

    /// `YYYY-MM-DD`, `days` from the app's today in UTC.
    pub fn day(&self, days: i64) -> String {
        let today = self.now().to_zoned(jiff::tz::TimeZone::UTC).date();
        today.checked_add(jiff::Span::new().days(days)).expect("a date in range").to_string()
    }

    /// Lets `by` pass on the app's clock and returns the new time. The job
    /// loop is not woken: a test runs what it needs (`App::run_jobs_once`,
    /// `deliver_due`, …) itself, so nothing races with its checks.
    pub fn advance(&self, by: jiff::SignedDuration) -> jiff::Timestamp {
        self.clock.advance(by).expect("the test server runs on a manual clock")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A new browser with its own cookie jar.
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    /// Every mail written to the outbox so far, decoded.
    pub fn mails(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
        files
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .map(|raw| super::decode_quoted_printable(&raw))
            .collect()
    }

    /// Waits (mail is sent in the background) for a mail to `to` whose text
    /// contains `needle`, and returns the first link in it.
    pub async fn wait_for_link(&self, to: &str, needle: &str) -> String {
        for _ in 0..100 {
            let found = self.mails().into_iter().rev().find(|m| m.contains(&format!("To: {to}")) && m.contains(needle));
            if let Some(mail) = found {
                let start = mail.find("http://").expect("a link in the mail");
                let link: String = mail[start..].chars().take_while(|c| !c.is_whitespace()).collect();
                return link;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} containing {needle:?}; outbox has: {:#?}", self.mails());
    }

    /// Waits (mail is sent in the background) for a mail to `to` whose text
    /// contains `needle`, and returns it.
    pub async fn wait_for_mail(&self, to: &str, needle: &str) -> String {
        for _ in 0..100 {
            let found = self.mails().into_iter().find(|m| m.contains(&format!("To: {to}")) && m.contains(needle));
            if let Some(mail) = found {
                return mail;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no mail to {to} containing {needle:?}; outbox has: {:#?}", self.mails());
    }

    /// Creates a confirmed account directly through the services.
    pub async fn create_user(&self, username: &str, admin: bool) -> officehours::storage::User {
        let input = officehours::service::accounts::SignUp {
            username: username.into(),
            email: format!("{username}@example.org"),
            password: PASSWORD.into(),
            display_name: String::new(),
            timezone: "Europe/Berlin".into(),
        };
        let roles = officehours::service::accounts::Roles { admin, verified: true, ..Default::default() };
        self.app.sign_up(&input, roles).await.expect("create user")
    }
}

impl TestServer {
    /// A confirmed account with its advisor profile switched on.
    pub async fn create_advisor(&self, username: &str) -> officehours::storage::User {
        let user = self.create_user(username, false).await;
        let form = officehours::service::advisors::AdvisorForm { enabled: true, ..Default::default() };
        self.app.save_advisor_profile(&user, &form).await.expect("advisor profile").user
    }

    /// An API client holding a fresh token of `user`.
    pub async fn api_as(&self, user: &officehours::storage::User) -> super::api::Api {
        let mut api = super::api::Api::new(self);
        api.token = Some(self.app.create_api_token(user, "test").await.expect("token"));
        api
    }
}

/// The password test accounts use: long and uncommon enough for the policy.
pub const PASSWORD: &str = "correct horse battery staple";

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl TestServer {
    /// An approved session between two people at any instant, past ones
    /// included: written straight through storage, as the booking rules
    /// (rightly) refuse to book the past. Returns the request id.
    pub async fn session_at(
        &self,
        advisor: &officehours::storage::User,
        learner: &officehours::storage::User,
        start: jiff::Timestamp,
        status: officehours::domain::booking::RequestStatus,
    ) -> i64 {
        let store = &self.store;
        let end = start + jiff::SignedDuration::from_mins(10);
        let date = start.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
        let new = officehours::storage::NewBlock {
            advisor_id: advisor.id,
            timezone: "UTC".into(),
            start_date: date.clone(),
            start_time: start.strftime("%H:%M").to_string(),
            end_time: end.strftime("%H:%M").to_string(),
            weekdays: None,
            until_date: None,
            session_minutes: 10,
            overrides: Default::default(),
            offering_id: None,
            occurrences: vec![officehours::storage::NewOccurrence {
                date,
                start: start.as_millisecond(),
                end: end.as_millisecond(),
                slots: vec![(start.as_millisecond(), end.as_millisecond())],
            }],
        };
        let now = self.clock.now_ms();
        let (_, slots) = store.create_block(&new, now).await.expect("block");
        let request = store
            .create_request(
                slots[0].id,
                learner.id,
                (0, 1),
                |_| Ok::<_, ()>(status),
                officehours::storage::RequestText { note: "", answers: "{}", origin: None },
                now,
            )
            .await
            .expect("request")
            .expect("allowed");
        self.app.process_booking_events().await.expect("events");
        request.id
    }
}

impl TestServer {
    /// Runs one SQL statement directly (to leave a row as a crash would;
    /// to let time pass, use [`TestServer::advance`]).
    pub async fn execute(&self, sql: &str) {
        self.store.execute_raw(sql).await.expect("test SQL");
    }
}

//! One fresh database per test, on SQLite and on PostgreSQL.

use std::sync::atomic::{AtomicU32, Ordering};

use officehours::storage::Store;

/// Where the tests find PostgreSQL (trust auth on this machine kind).
pub fn postgres_admin_url() -> String {
    std::env::var("OFFICEHOURS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub struct TestDatabase {
    pub backend: &'static str,
    pub url: String,
    /// The folder for the SQLite file, the mail outbox and other data.
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDatabase {
    pub async fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
        TestDatabase { backend: "sqlite", url, dir, pg_name: None }
    }

    /// A new, empty PostgreSQL database, or `None` when PostgreSQL is not
    /// reachable (which fails the test in CI).
    pub async fn postgres() -> Option<TestDatabase> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin = postgres_admin_url();
        let store = match Store::connect(&admin, 1).await {
            Ok(store) => store,
            Err(err) => {
                super::require(&format!("PostgreSQL at {admin} ({err})"), false);
                return None;
            }
        };
        let name = format!(
            "oh_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            jiff::Timestamp::now().as_millisecond() % 1_000_000
        );
        store.execute_raw(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        store.close().await;
        let mut url = url::Url::parse(&admin).expect("valid admin url");
        url.set_path(&name);
        Some(TestDatabase {
            backend: "postgres",
            url: url.to_string(),
            dir: tempfile::tempdir().expect("temp dir"),
            pg_name: Some(name),
        })
    }

    /// A connected, migrated store on this database.
    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url, 4).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some(name) = self.pg_name.take() else {
            return;
        };
        // Dropping needs a connection; do it on a short-lived thread so that
        // Drop works inside and outside a runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(store) = Store::connect(&postgres_admin_url(), 1).await {
                    let _ = store.execute_raw(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    store.close().await;
                }
            });
        })
        .join();
    }
}

/// SQLite always; PostgreSQL when reachable (always in CI).
pub async fn test_databases() -> Vec<TestDatabase> {
    let mut dbs = vec![TestDatabase::sqlite().await];
    if let Some(pg) = TestDatabase::postgres().await {
        dbs.push(pg);
    }
    dbs
}

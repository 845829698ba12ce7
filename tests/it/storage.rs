//! The storage layer on SQLite and PostgreSQL: the same calls, the same
//! answers, the same constraints.

use crate::support;

use officehours::storage::{AdvisorUpdate, DirectoryQuery, EmailTokenPurpose, NewUser, ProfileUpdate, StorageError};
use support::test_databases;

fn new_user(name: &str) -> NewUser {
    NewUser {
        username: name.into(),
        email: format!("{name}@example.org"),
        email_verified: false,
        password_hash: "hash".into(),
        display_name: String::new(),
        timezone: "UTC".into(),
        is_advisor: false,
        is_pro: false,
        is_admin: false,
    }
}

#[tokio::test]
async fn both_backends_are_tested() {
    let dbs = test_databases().await;
    if std::env::var_os("CI").is_some() {
        assert_eq!(dbs.iter().map(|d| d.backend).collect::<Vec<_>>(), vec!["sqlite", "postgres"]);
    }
    for db in &dbs {
        let store = db.store().await;
        assert_eq!(store.backend() == officehours::storage::Backend::Sqlite, db.backend == "sqlite");
        store.ping().await.unwrap();
        store.migrate().await.expect("migrating twice is a no-op");
    }
}

#[tokio::test]
async fn users_round_trip_and_uniqueness_is_enforced_by_the_database() {
    for db in test_databases().await {
        let store = db.store().await;
        let mut ada = new_user("ada");
        ada.is_admin = true;
        ada.email_verified = true;
        let created = store.create_user(&ada).await.unwrap();
        assert!(created.id > 0);
        assert!(
            created.is_admin && created.email_verified && !created.is_pro && !created.is_advisor,
            "[{}] booleans",
            db.backend
        );
        assert!(created.created_at > store.clock().now_ms() - 60_000);

        let mut same_name = new_user("ada");
        same_name.email = "other@example.org".into();
        assert!(
            matches!(store.create_user(&same_name).await, Err(StorageError::Duplicate("username"))),
            "[{}]",
            db.backend
        );
        let mut same_mail = new_user("bob");
        same_mail.email = "ada@example.org".into();
        assert!(
            matches!(store.create_user(&same_mail).await, Err(StorageError::Duplicate("email"))),
            "[{}]",
            db.backend
        );
        assert_eq!(store.count_users().await.unwrap(), 1);

        assert!(store.username_taken("ada").await.unwrap());
        assert!(!store.email_taken("nobody@example.org").await.unwrap());
        assert!(matches!(store.user_by_username("nobody").await, Err(StorageError::NotFound)));
        assert_eq!(store.user_by_email("ada@example.org").await.unwrap().id, created.id);

        let update = ProfileUpdate {
            display_name: "Ada L.".into(),
            bio: "Notes on the engine".into(),
            timezone: "Europe/London".into(),
        };
        let updated = store.update_profile(created.id, &update).await.unwrap();
        assert_eq!((updated.display_name.as_str(), updated.timezone.as_str()), ("Ada L.", "Europe/London"));

        store.set_roles(created.id, true, false).await.unwrap();
        let roles = store.user_by_id(created.id).await.unwrap();
        assert!(roles.is_pro && !roles.is_admin, "[{}]", db.backend);
    }
}

#[tokio::test]
async fn sessions_expire_and_end_with_the_password() {
    for db in test_databases().await {
        let store = db.store().await;
        let user = store.create_user(&new_user("carol")).await.unwrap();
        store.create_login_session("live", user.id, store.clock().now_ms() + 60_000).await.unwrap();
        store.create_login_session("expired", user.id, store.clock().now_ms() - 1).await.unwrap();
        assert_eq!(store.login_session_user("live").await.unwrap().map(|u| u.id), Some(user.id));
        assert!(store.login_session_user("expired").await.unwrap().is_none(), "[{}]", db.backend);
        assert!(store.login_session_user("unknown").await.unwrap().is_none());
        assert_eq!(store.purge_expired().await.unwrap(), 1);
        store.delete_user_login_sessions(user.id).await.unwrap();
        assert!(store.login_session_user("live").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn e_mail_links_work_once_and_only_for_their_purpose() {
    for db in test_databases().await {
        let store = db.store().await;
        let user = store.create_user(&new_user("dave")).await.unwrap();
        let later = store.clock().now_ms() + 60_000;
        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v1", &user.email, later).await.unwrap();
        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v2", &user.email, later).await.unwrap();
        assert!(
            store.consume_email_token(EmailTokenPurpose::Verify, "v1").await.unwrap().is_none(),
            "a newer link replaces the old"
        );
        assert!(store.consume_email_token(EmailTokenPurpose::Reset, "v2").await.unwrap().is_none(), "wrong purpose");
        let (id, email) = store.consume_email_token(EmailTokenPurpose::Verify, "v2").await.unwrap().unwrap();
        assert_eq!((id, email.as_str()), (user.id, "dave@example.org"));
        assert!(store.consume_email_token(EmailTokenPurpose::Verify, "v2").await.unwrap().is_none(), "once");
        assert!(store.mark_email_verified(user.id, "dave@example.org").await.unwrap());
        assert!(!store.mark_email_verified(user.id, "old@example.org").await.unwrap(), "only the current address");

        store.create_email_token(user.id, EmailTokenPurpose::Reset, "r1", &user.email, later).await.unwrap();
        store.create_login_session("s", user.id, later).await.unwrap();
        assert_eq!(store.peek_email_token(EmailTokenPurpose::Reset, "r1").await.unwrap().map(|u| u.id), Some(user.id));
        assert_eq!(store.reset_password("r1", "new-hash").await.unwrap(), Some(user.id));
        assert_eq!(store.user_by_id(user.id).await.unwrap().password_hash, "new-hash");
        assert!(store.login_session_user("s").await.unwrap().is_none(), "[{}] sessions end on reset", db.backend);
        assert_eq!(store.reset_password("r1", "again").await.unwrap(), None, "once");

        store
            .create_email_token(user.id, EmailTokenPurpose::Reset, "old", &user.email, store.clock().now_ms() - 1)
            .await
            .unwrap();
        assert_eq!(store.reset_password("old", "x").await.unwrap(), None, "expired");
        assert_eq!(store.user_by_id(user.id).await.unwrap().password_hash, "new-hash");

        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v3", &user.email, later).await.unwrap();
        let moved = store.change_email(user.id, "dave2@example.org").await.unwrap();
        assert!(!moved.email_verified);
        assert!(
            store.consume_email_token(EmailTokenPurpose::Verify, "v3").await.unwrap().is_none(),
            "links die with the address"
        );
    }
}

#[tokio::test]
async fn api_tokens_identify_their_owner() {
    for db in test_databases().await {
        let store = db.store().await;
        let user = store.create_user(&new_user("erin")).await.unwrap();
        store.create_api_token(user.id, "token-hash", "ci", None).await.unwrap();
        assert_eq!(store.api_token_user("token-hash").await.unwrap().map(|u| u.id), Some(user.id));
        assert!(store.api_token_user("other").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn api_tokens_expire_record_their_use_and_are_revoked_only_by_their_owner() {
    for db in test_databases().await {
        let store = db.store().await;
        let erin = store.create_user(&new_user("erin")).await.unwrap();
        let finn = store.create_user(&new_user("finn")).await.unwrap();
        let now = store.clock().now_ms();
        let live = store.create_api_token(erin.id, "live", "live", Some(now + 60_000)).await.unwrap();
        let dead = store.create_api_token(erin.id, "dead", "dead", Some(now - 1)).await.unwrap();
        let theirs = store.create_api_token(finn.id, "theirs", "theirs", None).await.unwrap();
        assert_eq!((live.name.as_str(), live.last_used_at, live.expires_at), ("live", None, Some(now + 60_000)));

        assert!(store.api_token_user("dead").await.unwrap().is_none(), "[{}] expired", db.backend);
        assert_eq!(store.api_token_user("live").await.unwrap().map(|u| u.id), Some(erin.id));
        let listed = store.api_tokens_of(erin.id).await.unwrap();
        assert_eq!(listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["dead", "live"], "newest first");
        assert!(listed[1].last_used_at.is_some() && listed[0].last_used_at.is_none(), "[{}]", db.backend);
        assert!(listed[0].is_expired(store.clock().now_ms()));

        assert_eq!(store.revoke_api_token(erin.id, theirs.id).await.unwrap(), None, "someone else's id");
        assert_eq!(store.api_tokens_of(finn.id).await.unwrap().len(), 1, "[{}] changed nothing", db.backend);
        assert_eq!(store.revoke_api_token(erin.id, dead.id).await.unwrap().as_deref(), Some("dead"));
        assert_eq!(store.revoke_api_tokens_of(erin.id).await.unwrap(), 1);
        assert!(store.api_tokens_of(erin.id).await.unwrap().is_empty());
        assert_eq!(store.api_tokens_of(finn.id).await.unwrap().len(), 1);
    }
}

#[tokio::test]
async fn advisor_profiles_save_whole_and_search_on_both_backends() {
    for db in test_databases().await {
        let store = db.store().await;
        let a = store.create_user(&new_user("frank")).await.unwrap();
        let b = store.create_user(&new_user("gwen")).await.unwrap();
        let update = AdvisorUpdate {
            enabled: true,
            headline: "Databases".into(),
            bio: "Indexes and query plans".into(),
            topics: vec!["PostgreSQL".into(), "SQLite".into()],
            category_slugs: vec!["programming".into(), "no-such-category".into()],
            links: vec!["https://frank.example.org/".into()],
        };
        let saved = store.save_advisor_profile(a.id, &update).await.unwrap();
        assert!(saved.user.is_advisor);
        assert_eq!(saved.topics, vec!["PostgreSQL", "SQLite"]);
        assert_eq!(saved.categories.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), vec!["programming"]);
        store
            .save_advisor_profile(
                b.id,
                &AdvisorUpdate { enabled: true, headline: "Design".into(), ..Default::default() },
            )
            .await
            .unwrap();

        let search = |terms: &[&str], category: Option<&str>| DirectoryQuery {
            terms: terms.iter().map(|t| t.to_string()).collect(),
            category: category.map(str::to_string),
            page: 1,
            per_page: 20,
            min_karma: None,
        };
        let names = |page: officehours::storage::DirectoryPage| {
            page.advisors.into_iter().map(|p| p.user.username).collect::<Vec<_>>()
        };
        assert_eq!(names(store.search_advisors(&search(&[], None)).await.unwrap()), vec!["frank", "gwen"]);
        assert_eq!(
            names(store.search_advisors(&search(&["sqlite"], None)).await.unwrap()),
            vec!["frank"],
            "[{}] topic",
            db.backend
        );
        assert_eq!(
            names(store.search_advisors(&search(&["QUERY", "plans"], None)).await.unwrap()),
            vec!["frank"],
            "bio, all words"
        );
        assert_eq!(names(store.search_advisors(&search(&[], Some("programming"))).await.unwrap()), vec!["frank"]);
        assert!(names(store.search_advisors(&search(&["design"], Some("programming"))).await.unwrap()).is_empty());

        // Saving again replaces the lists rather than appending to them.
        let again =
            store.save_advisor_profile(a.id, &AdvisorUpdate { enabled: false, ..update.clone() }).await.unwrap();
        assert_eq!(again.topics.len(), 2);
        assert_eq!(names(store.search_advisors(&search(&[], None)).await.unwrap()), vec!["gwen"]);

        assert!(store.delete_category("programming").await.unwrap());
        assert!(store.advisor_profile("frank").await.unwrap().categories.is_empty(), "[{}] cascade", db.backend);
        assert!(matches!(store.create_category("design", "Design").await, Err(StorageError::Duplicate("category"))));
    }
}

/// Many activities from an actor we have never seen, at once (a peer's
/// delivery queue after a restart): one shadow account, and no request
/// fails on the username that the first one took.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_remote_actor_gets_one_shadow_account_however_many_ask_at_once() {
    for db in test_databases().await {
        let store = db.store().await;
        for round in 0..20 {
            let actor = store
                .upsert_remote_actor(&officehours::storage::NewRemoteActor {
                    ap_id: format!("https://alpha.example/users/ada{round}"),
                    kind: "Person".into(),
                    username: format!("ada{round}"),
                    domain: "alpha.example".into(),
                    name: "Ada".into(),
                    summary: String::new(),
                    url: None,
                    inbox: format!("https://alpha.example/users/ada{round}/inbox"),
                    shared_inbox: None,
                    public_key_pem: "key".into(),
                })
                .await
                .unwrap();
            let asks = (0..32).map(|_| {
                let (store, actor) = (store.clone(), actor.clone());
                tokio::spawn(async move { store.shadow_user(&actor).await })
            });
            let asks: Vec<_> = asks.collect();
            let mut ids = Vec::new();
            for ask in asks {
                ids.push(ask.await.unwrap().unwrap_or_else(|e| panic!("[{}] {e}", db.backend)).id);
            }
            ids.dedup();
            assert_eq!(ids.len(), 1, "[{}] one account: {ids:?}", db.backend);
        }
    }
}

/// What one backend's migrated schema holds: tables with their columns,
/// and the indexes created by name (not those behind primary keys or
/// inline constraints, which each database names its own way).
async fn schema_of(db: &support::TestDatabase) -> std::collections::BTreeMap<String, Vec<String>> {
    use sqlx::Row;
    db.store().await; // connects (installing the drivers) and migrates
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let (tables_sql, columns_sql, indexes_sql) = match db.backend {
        "sqlite" => (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
            "SELECT name FROM pragma_table_info($1) ORDER BY name",
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        ),
        _ => (
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY column_name",
            "SELECT indexname::text FROM pg_indexes i WHERE schemaname = 'public' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        ),
    };
    let mut schema = std::collections::BTreeMap::new();
    for row in sqlx::query(tables_sql).fetch_all(&pool).await.unwrap() {
        let table: String = row.get(0);
        let columns = sqlx::query(columns_sql).bind(&table).fetch_all(&pool).await.unwrap();
        schema.insert(format!("table {table}"), columns.iter().map(|c| c.get::<String, _>(0)).collect());
    }
    let mut indexes: Vec<String> =
        sqlx::query(indexes_sql).fetch_all(&pool).await.unwrap().iter().map(|r| r.get(0)).collect();
    indexes.sort();
    schema.insert("indexes".into(), indexes);
    pool.close().await;
    schema
}

/// The two migration folders describe the same tables, columns and named
/// indexes: a migration written for one database only fails here.
#[tokio::test]
async fn both_migration_folders_describe_the_same_schema() {
    let dbs = test_databases().await;
    let [sqlite, postgres] = dbs.as_slice() else {
        support::require("PostgreSQL for comparing the two schemas", false);
        return;
    };
    let (a, b) = (schema_of(sqlite).await, schema_of(postgres).await);
    assert!(a.contains_key("table requests") && a["indexes"].contains(&"requests_slot_status".to_string()), "{a:?}");
    for key in a.keys().chain(b.keys()) {
        assert_eq!(a.get(key), b.get(key), "{key} differs between SQLite and PostgreSQL");
    }
}

//! The storage layer on SQLite and PostgreSQL: the same calls, the same
//! answers, the same constraints.

use crate::support;

use officehours::domain::booking::{EventKind, RequestStatus, SlotState};
use officehours::domain::retry::AfterFailure;
use officehours::storage::{
    AdvisorUpdate, Constraint, DirectoryQuery, EmailTokenPurpose, MAIL_OUTBOX, Mirrored, MirroredEvent, MirroredSlot,
    NewBlock, NewOccurrence, NewUser, OutgoingMail, ProfileUpdate, Request, RequestText, Slot, StorageError,
};
use support::test_databases;

/// Now on the wall clock, in the stored unit. These tests drive the store
/// directly: each reads it once and passes it as every call's `now`.
fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

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
        let now = now_ms();
        let mut ada = new_user("ada");
        ada.is_admin = true;
        ada.email_verified = true;
        let created = store.create_user(&ada, now).await.unwrap();
        assert!(created.id > 0);
        assert!(
            created.is_admin && created.email_verified && !created.is_pro && !created.is_advisor,
            "[{}] booleans",
            db.backend
        );
        assert!(created.created_at > now - 60_000);

        let mut same_name = new_user("ada");
        same_name.email = "other@example.org".into();
        assert!(
            matches!(store.create_user(&same_name, now).await, Err(StorageError::Duplicate(Constraint::Username))),
            "[{}]",
            db.backend
        );
        let mut same_mail = new_user("bob");
        same_mail.email = "ada@example.org".into();
        assert!(
            matches!(store.create_user(&same_mail, now).await, Err(StorageError::Duplicate(Constraint::Email))),
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
        let updated = store.update_profile(created.id, &update, now).await.unwrap();
        assert_eq!((updated.display_name.as_str(), updated.timezone.as_str()), ("Ada L.", "Europe/London"));

        store.set_roles(created.id, true, false, now).await.unwrap();
        let roles = store.user_by_id(created.id).await.unwrap();
        assert!(roles.is_pro && !roles.is_admin, "[{}]", db.backend);
    }
}

#[tokio::test]
async fn sessions_expire_and_end_with_the_password() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let user = store.create_user(&new_user("carol"), now).await.unwrap();
        store.create_login_session("live", user.id, now + 60_000, now).await.unwrap();
        store.create_login_session("expired", user.id, now - 1, now).await.unwrap();
        assert_eq!(store.login_session_user("live", now).await.unwrap().map(|u| u.id), Some(user.id));
        assert!(store.login_session_user("expired", now).await.unwrap().is_none(), "[{}]", db.backend);
        assert!(store.login_session_user("unknown", now).await.unwrap().is_none());
        assert_eq!(store.purge_expired(now).await.unwrap(), 1);
        store.delete_user_login_sessions(user.id).await.unwrap();
        assert!(store.login_session_user("live", now).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn e_mail_links_work_once_and_only_for_their_purpose() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let user = store.create_user(&new_user("dave"), now).await.unwrap();
        let later = now + 60_000;
        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v1", &user.email, later, now).await.unwrap();
        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v2", &user.email, later, now).await.unwrap();
        assert!(
            store.consume_email_token(EmailTokenPurpose::Verify, "v1", now).await.unwrap().is_none(),
            "a newer link replaces the old"
        );
        assert!(
            store.consume_email_token(EmailTokenPurpose::Reset, "v2", now).await.unwrap().is_none(),
            "wrong purpose"
        );
        let (id, email) = store.consume_email_token(EmailTokenPurpose::Verify, "v2", now).await.unwrap().unwrap();
        assert_eq!((id, email.as_str()), (user.id, "dave@example.org"));
        assert!(store.consume_email_token(EmailTokenPurpose::Verify, "v2", now).await.unwrap().is_none(), "once");
        assert!(store.mark_email_verified(user.id, "dave@example.org", now).await.unwrap());
        assert!(!store.mark_email_verified(user.id, "old@example.org", now).await.unwrap(), "only the current address");

        store.create_email_token(user.id, EmailTokenPurpose::Reset, "r1", &user.email, later, now).await.unwrap();
        store.create_login_session("s", user.id, later, now).await.unwrap();
        assert_eq!(
            store.peek_email_token(EmailTokenPurpose::Reset, "r1", now).await.unwrap().map(|u| u.id),
            Some(user.id)
        );
        assert_eq!(store.reset_password("r1", "new-hash", now).await.unwrap(), Some(user.id));
        assert_eq!(store.user_by_id(user.id).await.unwrap().password_hash, "new-hash");
        assert!(store.login_session_user("s", now).await.unwrap().is_none(), "[{}] sessions end on reset", db.backend);
        assert_eq!(store.reset_password("r1", "again", now).await.unwrap(), None, "once");

        store.create_email_token(user.id, EmailTokenPurpose::Reset, "old", &user.email, now - 1, now).await.unwrap();
        assert_eq!(store.reset_password("old", "x", now).await.unwrap(), None, "expired");
        assert_eq!(store.user_by_id(user.id).await.unwrap().password_hash, "new-hash");

        store.create_email_token(user.id, EmailTokenPurpose::Verify, "v3", &user.email, later, now).await.unwrap();
        let moved = store.change_email(user.id, "dave2@example.org", now).await.unwrap();
        assert!(!moved.email_verified);
        assert!(
            store.consume_email_token(EmailTokenPurpose::Verify, "v3", now).await.unwrap().is_none(),
            "links die with the address"
        );
    }
}

#[tokio::test]
async fn api_tokens_identify_their_owner() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let user = store.create_user(&new_user("erin"), now).await.unwrap();
        store.create_api_token(user.id, "token-hash", "ci", None, now).await.unwrap();
        assert_eq!(store.api_token_user("token-hash", now).await.unwrap().map(|u| u.id), Some(user.id));
        assert!(store.api_token_user("other", now).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn api_tokens_expire_record_their_use_and_are_revoked_only_by_their_owner() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let erin = store.create_user(&new_user("erin"), now).await.unwrap();
        let finn = store.create_user(&new_user("finn"), now).await.unwrap();
        let live = store.create_api_token(erin.id, "live", "live", Some(now + 60_000), now).await.unwrap();
        let dead = store.create_api_token(erin.id, "dead", "dead", Some(now - 1), now).await.unwrap();
        let theirs = store.create_api_token(finn.id, "theirs", "theirs", None, now).await.unwrap();
        assert_eq!((live.name.as_str(), live.last_used_at, live.expires_at), ("live", None, Some(now + 60_000)));

        assert!(store.api_token_user("dead", now).await.unwrap().is_none(), "[{}] expired", db.backend);
        assert_eq!(store.api_token_user("live", now).await.unwrap().map(|u| u.id), Some(erin.id));
        let listed = store.api_tokens_of(erin.id).await.unwrap();
        assert_eq!(listed.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["dead", "live"], "newest first");
        assert!(listed[1].last_used_at.is_some() && listed[0].last_used_at.is_none(), "[{}]", db.backend);
        assert!(listed[0].is_expired(now));
        // The last use is kept to the minute: a use within it writes nothing,
        // one after it records the new time.
        let last_use = || async { store.api_tokens_of(finn.id).await.unwrap()[0].last_used_at };
        store.api_token_user("theirs", now).await.unwrap().unwrap();
        assert_eq!(last_use().await, Some(now));
        store.api_token_user("theirs", now + 30_000).await.unwrap().unwrap();
        store.api_token_user("theirs", now + 59_999).await.unwrap().unwrap();
        assert_eq!(last_use().await, Some(now), "[{}] within the minute", db.backend);
        store.api_token_user("theirs", now + 60_000).await.unwrap().unwrap();
        assert_eq!(last_use().await, Some(now + 60_000), "[{}] a minute later", db.backend);

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
        let now = now_ms();
        let a = store.create_user(&new_user("frank"), now).await.unwrap();
        let b = store.create_user(&new_user("gwen"), now).await.unwrap();
        let update = AdvisorUpdate {
            enabled: true,
            headline: "Databases".into(),
            bio: "Indexes and query plans".into(),
            topics: vec!["PostgreSQL".into(), "SQLite".into()],
            category_slugs: vec!["programming".into(), "no-such-category".into()],
            links: vec!["https://frank.example.org/".into()],
        };
        let saved = store.save_advisor_profile(a.id, &update, now).await.unwrap();
        assert!(saved.user.is_advisor);
        assert_eq!(saved.topics, vec!["PostgreSQL", "SQLite"]);
        assert_eq!(saved.categories.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(), vec!["programming"]);
        store
            .save_advisor_profile(
                b.id,
                &AdvisorUpdate { enabled: true, headline: "Design".into(), ..Default::default() },
                now,
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
            store.save_advisor_profile(a.id, &AdvisorUpdate { enabled: false, ..update.clone() }, now).await.unwrap();
        assert_eq!(again.topics.len(), 2);
        assert_eq!(names(store.search_advisors(&search(&[], None)).await.unwrap()), vec!["gwen"]);

        assert!(store.delete_category("programming").await.unwrap());
        assert!(store.advisor_profile("frank").await.unwrap().categories.is_empty(), "[{}] cascade", db.backend);
        assert!(matches!(
            store.create_category("design", "Design", now).await,
            Err(StorageError::Duplicate(Constraint::Category))
        ));
    }
}

/// Many activities from an actor we have never seen, at once (a peer's
/// delivery queue after a restart): one shadow account, and no request
/// fails on the username that the first one took.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_remote_actor_gets_one_shadow_account_however_many_ask_at_once() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        for round in 0..20 {
            let actor = store
                .upsert_remote_actor(
                    &officehours::storage::NewRemoteActor {
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
                        public_key_id: format!("https://alpha.example/users/ada{round}#main-key"),
                        ed25519_key_id: None,
                        ed25519_key: None,
                    },
                    now,
                )
                .await
                .unwrap();
            let asks = (0..32).map(|_| {
                let (store, actor) = (store.clone(), actor.clone());
                tokio::spawn(async move { store.shadow_user(&actor, now).await })
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

/// The durable queue's statements (here on the mail outbox; deliveries use
/// the same ones): a claim takes due rows oldest first and holds them for
/// the lease, counting the attempt; a failure is retried at the time given
/// or given up; done and given-up rows are never claimed again.
#[tokio::test]
async fn a_queue_claims_each_row_once_per_lease_then_retries_or_gives_up() {
    for db in test_databases().await {
        let backend = db.backend;
        let store = db.store().await;
        let now = now_ms();
        for n in 0..3 {
            let mail = OutgoingMail { recipient: format!("{n}@example.org"), subject: "s".into(), body: "b".into() };
            store.queue_mail(&mail, now).await.unwrap();
        }
        let now = now + 1_000;
        let lease = 60_000;
        let first = store.claim(&MAIL_OUTBOX, 2, lease, now).await.unwrap();
        let seen: Vec<(&str, i64)> = first.iter().map(|m| (m.recipient.as_str(), m.attempts)).collect();
        assert_eq!(seen, [("0@example.org", 1), ("1@example.org", 1)], "[{backend}] oldest first");
        let rest = store.claim(&MAIL_OUTBOX, 10, lease, now).await.unwrap();
        assert_eq!(rest.len(), 1, "[{backend}] the leased rows are not claimed twice");
        assert!(store.claim(&MAIL_OUTBOX, 10, lease, now + lease - 1).await.unwrap().is_empty(), "[{backend}]");

        // The lease ends (the worker died): claimed again, a second attempt.
        let again = store.claim(&MAIL_OUTBOX, 10, lease, now + lease).await.unwrap();
        assert_eq!(again.iter().map(|m| m.attempts).collect::<Vec<_>>(), [2, 2, 2], "[{backend}]");
        let later = now + lease;
        store.finished(&MAIL_OUTBOX, again[0].id, later).await.unwrap();
        let retry_at = later + 2 * lease;
        store
            .failed(&MAIL_OUTBOX, again[1].id, "452 mailbox full", AfterFailure::RetryAt(retry_at), later)
            .await
            .unwrap();
        store.failed(&MAIL_OUTBOX, again[2].id, "550 no such user", AfterFailure::GiveUp, later).await.unwrap();
        assert_eq!(store.pending(&MAIL_OUTBOX).await.unwrap(), 1, "[{backend}] one left to retry");
        assert_eq!(store.unsent_mail().await.unwrap(), 1, "[{backend}]");

        // Not before its time, then once, with its third attempt.
        assert!(store.claim(&MAIL_OUTBOX, 10, lease, retry_at - 1).await.unwrap().is_empty(), "[{backend}]");
        let retried = store.claim(&MAIL_OUTBOX, 10, lease, retry_at).await.unwrap();
        assert_eq!(retried.iter().map(|m| (m.id, m.attempts)).collect::<Vec<_>>(), [(again[1].id, 3)], "[{backend}]");
        // Long after: only that row comes back (its lease ended), never the
        // one sent or the one given up.
        let ids: Vec<i64> =
            store.claim(&MAIL_OUTBOX, 10, lease, retry_at + 10 * lease).await.unwrap().iter().map(|m| m.id).collect();
        assert_eq!(ids, [again[1].id], "[{backend}]");
    }
}

/// What one backend's migrated schema holds: tables with their columns
/// (and whether they may be NULL), the indexes created by name (not those
/// behind primary keys or inline constraints, which each database names its
/// own way), and each table's constraints: primary key, unique constraints
/// and indexes (partial or not), foreign keys with their actions, and
/// checks (the columns and values they name). Column types are left out:
/// they are where the two folders may differ.
async fn schema_of(db: &support::TestDatabase) -> std::collections::BTreeMap<String, Vec<String>> {
    use sqlx::Row;
    db.store().await; // connects (installing the drivers) and migrates
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let texts = |sql: &'static str, table: Option<String>| {
        let pool = pool.clone();
        async move {
            let mut query = sqlx::query(sql);
            if let Some(table) = table {
                query = query.bind(table);
            }
            query.fetch_all(&pool).await.unwrap().iter().map(|r| r.get::<String, _>(0)).collect::<Vec<String>>()
        }
    };
    let sqlite = db.backend == "sqlite";
    let (tables_sql, columns_sql, indexes_sql) = if sqlite {
        (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%'",
            // An INTEGER PRIMARY KEY is never NULL, whatever `notnull` says.
            "SELECT name || CASE WHEN \"notnull\" = 1 OR pk > 0 THEN ' NOT NULL' ELSE '' END \
             FROM pragma_table_info($1) ORDER BY name",
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL",
        )
    } else {
        (
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
            "SELECT column_name::text || CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END \
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY column_name",
            "SELECT indexname::text FROM pg_indexes i WHERE schemaname = 'public' \
             AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)",
        )
    };
    let mut schema = std::collections::BTreeMap::new();
    for table in texts(tables_sql, None).await {
        let columns = texts(columns_sql, Some(table.clone())).await;
        let names: Vec<String> = columns.iter().map(|c| c.split(' ').next().unwrap().to_string()).collect();
        let mut constraints = if sqlite {
            sqlite_constraints(&pool, &table, &names).await
        } else {
            let mut found = texts(
                // Primary keys, unique constraints and unique indexes alike.
                "SELECT CASE WHEN i.indisprimary THEN 'primary key (' ELSE 'unique (' END || \
                 (SELECT string_agg(COALESCE(a.attname::text, '<expression>'), ', ' ORDER BY k.n) \
                  FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
                  LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum AND k.attnum <> 0) || ')' || \
                 CASE WHEN i.indpred IS NOT NULL THEN ' partial' ELSE '' END \
                 FROM pg_index i WHERE i.indrelid = $1::regclass AND (i.indisunique OR i.indisprimary)",
                Some(table.clone()),
            )
            .await;
            let action = |column: &str| {
                format!(
                    "CASE c.{column} WHEN 'a' THEN 'no action' WHEN 'r' THEN 'restrict' WHEN 'c' THEN 'cascade' \
                     WHEN 'n' THEN 'set null' WHEN 'd' THEN 'set default' END"
                )
            };
            let keys = |keys: &str, table: &str| {
                format!(
                    "(SELECT string_agg(a.attname::text, ', ' ORDER BY k.n) FROM unnest(c.{keys}) WITH ORDINALITY \
                     AS k(attnum, n) JOIN pg_attribute a ON a.attrelid = c.{table} AND a.attnum = k.attnum)"
                )
            };
            let foreign_sql = format!(
                "SELECT 'foreign key (' || {} || ') references ' || c.confrelid::regclass::text || ' (' || {} || \
                 ') on delete ' || {} || ' on update ' || {} FROM pg_constraint c \
                 WHERE c.contype = 'f' AND c.conrelid = $1::regclass",
                keys("conkey", "conrelid"),
                keys("confkey", "confrelid"),
                action("confdeltype"),
                action("confupdtype"),
            );
            let foreign = sqlx::query(&foreign_sql).bind(&table).fetch_all(&pool).await.unwrap();
            found.extend(foreign.iter().map(|r| r.get::<String, _>(0)));
            let checks = texts(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c WHERE c.contype = 'c' AND c.conrelid = $1::regclass",
                Some(table.clone()),
            )
            .await;
            found.extend(checks.iter().map(|check| check_signature(check, &names)));
            found
        };
        constraints.sort();
        schema.insert(format!("table {table}"), columns);
        schema.insert(format!("constraints {table}"), constraints);
    }
    let mut indexes = texts(indexes_sql, None).await;
    indexes.sort();
    schema.insert("indexes".into(), indexes);
    pool.close().await;
    schema
}

/// A SQLite table's constraints, in the words [`schema_of`] uses for both.
async fn sqlite_constraints(pool: &sqlx::AnyPool, table: &str, columns: &[String]) -> Vec<String> {
    use sqlx::Row;
    let rows =
        |sql: &'static str, arg: String| async move { sqlx::query(sql).bind(arg).fetch_all(pool).await.unwrap() };
    let mut out = Vec::new();
    let primary: Vec<String> = rows("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk", table.into())
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    if !primary.is_empty() {
        out.push(format!("primary key ({})", primary.join(", ")));
    }
    let unique =
        rows("SELECT name, partial FROM pragma_index_list($1) WHERE \"unique\" = 1 AND origin <> 'pk'", table.into())
            .await;
    for index in unique {
        let (name, partial): (String, i64) = (index.get(0), index.get(1));
        let keys = rows("SELECT COALESCE(name, '<expression>') FROM pragma_index_info($1) ORDER BY seqno", name).await;
        let keys: Vec<String> = keys.iter().map(|r| r.get(0)).collect();
        out.push(format!("unique ({}){}", keys.join(", "), if partial == 1 { " partial" } else { "" }));
    }
    let foreign = rows(
        "SELECT id, \"table\", \"from\", COALESCE(\"to\", ''), on_update, on_delete FROM pragma_foreign_key_list($1) \
         ORDER BY id, seq",
        table.into(),
    )
    .await;
    /// A foreign key: the table it references, its columns here and there,
    /// its actions on delete and on update.
    type ForeignKey = (String, Vec<String>, Vec<String>, String, String);
    let mut keys: std::collections::BTreeMap<i64, ForeignKey> = Default::default();
    for row in foreign {
        let entry = keys.entry(row.get(0)).or_insert_with(|| {
            (
                row.get(1),
                Vec::new(),
                Vec::new(),
                row.get::<String, _>(5).to_lowercase(),
                row.get::<String, _>(4).to_lowercase(),
            )
        });
        entry.1.push(row.get(2));
        entry.2.push(row.get(3));
    }
    for (_, (target, from, to, on_delete, on_update)) in keys {
        // `REFERENCES t` without columns names t's primary key.
        let to = if to.iter().all(String::is_empty) {
            rows("SELECT name FROM pragma_table_info($1) WHERE pk > 0 ORDER BY pk", target.clone())
                .await
                .iter()
                .map(|r| r.get(0))
                .collect()
        } else {
            to
        };
        out.push(format!(
            "foreign key ({}) references {target} ({}) on delete {on_delete} on update {on_update}",
            from.join(", "),
            to.join(", ")
        ));
    }
    let sql: String =
        rows("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = $1", table.into()).await[0].get(0);
    let mut rest = sql.as_str();
    while let Some(at) = rest.find("CHECK") {
        let after = rest[at + 5..].trim_start();
        let before_ok = !rest[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
        rest = &rest[at + 5..];
        if !before_ok || !after.starts_with('(') {
            continue;
        }
        let mut depth = 0;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed CHECK");
        out.push(check_signature(&after[..=end], columns));
    }
    out
}

/// A check constraint as the columns and values it names (each database
/// writes the expression its own way: `IN (…)` or `= ANY (ARRAY[…])`).
fn check_signature(expression: &str, columns: &[String]) -> String {
    let mut names = std::collections::BTreeSet::new();
    let mut values = std::collections::BTreeSet::new();
    let mut chars = expression.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            let mut value = String::new();
            for c in chars.by_ref() {
                if c == '\'' {
                    break;
                }
                value.push(c);
            }
            values.insert(format!("'{value}'"));
        } else if c.is_alphabetic() || c == '_' {
            let mut word = c.to_string();
            while let Some(&c) = chars.peek().filter(|c| c.is_alphanumeric() || **c == '_') {
                word.push(c);
                chars.next();
            }
            if columns.contains(&word) {
                names.insert(word);
            }
        } else if c.is_ascii_digit() {
            let mut number = c.to_string();
            while let Some(&c) = chars.peek().filter(|c| c.is_ascii_digit()) {
                number.push(c);
                chars.next();
            }
            values.insert(number);
        }
    }
    let join = |set: std::collections::BTreeSet<String>| set.into_iter().collect::<Vec<_>>().join(", ");
    format!("check ({}; {})", join(names), join(values))
}

/// The two migration folders describe the same tables, columns (and their
/// NULLs), named indexes and constraints: a migration written for one
/// database only fails here.
#[tokio::test]
async fn both_migration_folders_describe_the_same_schema() {
    let dbs = test_databases().await;
    let [sqlite, postgres] = dbs.as_slice() else {
        support::require("PostgreSQL for comparing the two schemas", false);
        return;
    };
    let (a, b) = (schema_of(sqlite).await, schema_of(postgres).await);
    assert!(a.contains_key("table requests") && a["indexes"].contains(&"requests_slot_status".to_string()), "{a:?}");
    let requests = &a["constraints requests"];
    for expected in [
        "unique (slot_id) partial",
        "unique (slot_id, learner_id) partial",
        "foreign key (slot_id) references slots (id) on delete cascade on update no action",
        "check (status; 'approved', 'cancelled', 'declined', 'requested')",
    ] {
        assert!(requests.iter().any(|c| c == expected), "{expected} is not among {requests:?}");
    }
    for key in a.keys().chain(b.keys()) {
        assert_eq!(a.get(key), b.get(key), "{key} differs between SQLite and PostgreSQL");
    }
}

/// A block of `days` daily occurrences (from tomorrow on) with two 30-minute
/// slots each, straight through storage.
async fn block_of_days(store: &officehours::storage::Store, advisor_id: i64, days: i64, now: i64) -> Vec<Slot> {
    let base = now + 24 * 3_600_000;
    let occurrences = (0..days)
        .map(|d| {
            let start = base + d * 24 * 3_600_000;
            let date = jiff::Timestamp::from_millisecond(start).unwrap().to_zoned(jiff::tz::TimeZone::UTC).date();
            NewOccurrence {
                date: date.to_string(),
                start,
                end: start + 3_600_000,
                slots: vec![(start, start + 1_800_000), (start + 1_800_000, start + 3_600_000)],
            }
        })
        .collect();
    let new = NewBlock {
        advisor_id,
        timezone: "UTC".into(),
        start_date: String::new(),
        start_time: "10:00".into(),
        end_time: "11:00".into(),
        weekdays: None,
        until_date: None,
        session_minutes: 30,
        overrides: Default::default(),
        offering_id: None,
        occurrences,
    };
    store.create_block(&new, now).await.unwrap().1
}

async fn request_as(
    store: &officehours::storage::Store,
    slot: &Slot,
    learner: i64,
    status: RequestStatus,
    now: i64,
) -> Request {
    store
        .create_request(slot.id, learner, (0, 1), |_| Ok::<_, ()>(status), RequestText::default(), now)
        .await
        .unwrap()
        .unwrap()
}

/// Removing an occurrence, then the series, is a handful of set-based
/// statements: every live request on the removed slots is cancelled with
/// the note and gets exactly one `cancelled` event by the advisor, in slot
/// order; decided requests and slots before `from` stay as they were.
#[tokio::test]
async fn removing_a_series_cancels_every_live_request_with_one_event_each() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let advisor = store.create_user(&new_user("series"), now).await.unwrap();
        let (ann, bob) = (
            store.create_user(&new_user("ann"), now).await.unwrap(),
            store.create_user(&new_user("bob"), now).await.unwrap(),
        );
        let slots = block_of_days(&store, advisor.id, 4, now).await;
        assert_eq!(slots.len(), 8);
        let block_id = slots[0].block_id;
        let kept = request_as(&store, &slots[0], ann.id, RequestStatus::Approved, now).await;
        let mut live = Vec::new();
        for (slot, learner, status) in [
            (2, ann.id, RequestStatus::Requested),
            (2, bob.id, RequestStatus::Requested),
            (4, bob.id, RequestStatus::Approved),
            (5, ann.id, RequestStatus::Requested),
            (7, bob.id, RequestStatus::Requested),
        ] {
            live.push(request_as(&store, &slots[slot], learner, status, now).await);
        }
        let declined = request_as(&store, &slots[6], ann.id, RequestStatus::Declined, now).await;
        let events = |id| {
            let store = store.clone();
            async move { store.request_events(id).await.unwrap() }
        };

        // The second day only.
        let day = slots[2].occurrence_date.clone();
        let cancelled = store.cancel_block_slots(block_id, Some(&day), 0, advisor.id, "Ill", now).await.unwrap();
        let ids: Vec<i64> = cancelled.iter().map(|r| r.id).collect();
        assert_eq!(ids, [live[0].id, live[1].id], "[{}]", db.backend);
        assert!(cancelled.iter().all(|r| r.status == RequestStatus::Cancelled && r.decision_note == "Ill"));
        let states: Vec<SlotState> = store.block_slots(block_id).await.unwrap().iter().map(|s| s.status).collect();
        use SlotState::*;
        assert_eq!(
            states,
            [Booked, Open, Cancelled, Cancelled, Booked, Requested, Open, Requested],
            "[{}]",
            db.backend
        );
        store.block(block_id).await.expect("an occurrence removed, the block stays");

        // The whole series from the third day on: the first day is kept.
        let from = slots[4].starts_at;
        let cancelled = store.cancel_block_slots(block_id, None, from, advisor.id, "Moving", now).await.unwrap();
        let ids: Vec<i64> = cancelled.iter().map(|r| r.id).collect();
        assert_eq!(ids, [live[2].id, live[3].id, live[4].id], "[{}] in slot order", db.backend);
        for request in &live {
            let log = events(request.id).await;
            let kinds: Vec<EventKind> = log.iter().map(|e| e.0).collect();
            assert_eq!(kinds[1..], [EventKind::Cancelled], "[{}] one cancellation each: {log:?}", db.backend);
            assert_eq!(log[1].1, Some(advisor.id));
            assert_eq!(store.request(request.id).await.unwrap().status, RequestStatus::Cancelled);
        }
        assert_eq!(store.request(kept.id).await.unwrap().status, RequestStatus::Approved, "before `from`");
        assert_eq!(store.request(declined.id).await.unwrap().status, RequestStatus::Declined);
        assert_eq!(events(declined.id).await.len(), 1, "a decided request gets no event");
        let states: Vec<SlotState> = store.block_slots(block_id).await.unwrap().iter().map(|s| s.status).collect();
        assert_eq!(states, [Booked, Open, Cancelled, Cancelled, Cancelled, Cancelled, Cancelled, Cancelled]);
        assert!(matches!(store.block(block_id).await, Err(StorageError::NotFound)), "the series is deleted");
        let pending = store.pending_events(&ids).await.unwrap();
        assert_eq!(pending.len(), 3 + 3, "[{}] created and cancelled, to be told", db.backend);
        assert!(matches!(store.cancel_block_slots(0, None, 0, advisor.id, "", now).await, Err(StorageError::NotFound)));
    }
}

fn mirrored_slot(id: &str, starts_at: i64, open: bool, cancelled: bool) -> MirroredSlot {
    MirroredSlot {
        ap_id: format!("https://remote.example/slots/{id}"),
        starts_at,
        ends_at: starts_at + 600_000,
        open,
        cancelled,
    }
}

/// Mirroring an event writes its slots in a few set-based statements: new
/// slots are inserted, known ones follow the event, slots it stops listing
/// are cancelled, a slot id listed twice counts once (the later listing),
/// and a slot owned by another event refuses the whole event.
#[tokio::test]
async fn mirroring_an_event_upserts_its_slots_and_cancels_the_unlisted_ones() {
    for db in test_databases().await {
        let store = db.store().await;
        let now = now_ms();
        let advisor = store.create_user(&new_user("remote"), now).await.unwrap();
        let t = now + 24 * 3_600_000;
        let mut event = MirroredEvent {
            ap_id: "https://remote.example/events/1".into(),
            timezone: "UTC".into(),
            date: "2030-01-01".into(),
            start_time: "10:00".into(),
            end_time: "11:00".into(),
            session_minutes: 10,
            cancelled: false,
            slots: vec![
                mirrored_slot("a", t, true, false),
                mirrored_slot("b", t + 600_000, false, false),
                mirrored_slot("c", t + 1_200_000, true, true),
            ],
            version: 1,
        };
        let Mirrored::Stored(block_id) =
            store.mirror_event(advisor.id, &event, Some("https://remote.example/a/1"), now).await.unwrap()
        else {
            panic!("stored")
        };
        let seen = store.mirror_event(advisor.id, &event, Some("https://remote.example/a/1"), now).await.unwrap();
        assert_eq!(seen, Mirrored::Seen, "[{}] an activity is applied once", db.backend);
        let first = store.block_slots(block_id).await.unwrap();
        let view = |slots: &[Slot]| -> Vec<(String, i64, SlotState)> {
            slots
                .iter()
                .map(|s| (s.ap_id.clone().unwrap().rsplit('/').next().unwrap().to_string(), s.starts_at - t, s.status))
                .collect()
        };
        use SlotState::*;
        assert_eq!(
            view(&first),
            [("a".into(), 0, Open), ("b".into(), 600_000, Booked), ("c".into(), 1_200_000, Cancelled)],
            "[{}]",
            db.backend
        );

        // A later version: `a` moves and closes, `b` is dropped, `c` is
        // still cancelled, `d` is new and listed twice (the later wins).
        event.version = 2;
        event.slots = vec![
            mirrored_slot("d", t + 3_000_000, false, false),
            mirrored_slot("a", t + 1_800_000, false, false),
            mirrored_slot("c", t + 1_200_000, true, true),
            mirrored_slot("d", t + 2_400_000, true, false),
        ];
        let again = store.mirror_event(advisor.id, &event, Some("https://remote.example/a/2"), now).await.unwrap();
        assert_eq!(again, Mirrored::Stored(block_id));
        let second = store.block_slots(block_id).await.unwrap();
        assert_eq!(
            view(&second),
            [
                ("b".into(), 600_000, Cancelled),
                ("c".into(), 1_200_000, Cancelled),
                ("a".into(), 1_800_000, Booked),
                ("d".into(), 2_400_000, Open),
            ],
            "[{}]",
            db.backend
        );
        let ids =
            |slots: &[Slot], name: &str| slots.iter().find(|s| s.ap_id.as_deref().unwrap().ends_with(name)).unwrap().id;
        assert_eq!(ids(&first, "/a"), ids(&second, "/a"), "a known slot is updated, not replaced");
        // `a` opens again, and `c` is offered again: listed as not
        // cancelled, a cancelled slot is live again.
        event.version = 3;
        event.slots[1].open = true;
        event.slots[2].cancelled = false;
        store.mirror_event(advisor.id, &event, None, now).await.unwrap();
        let third = store.block_slots(block_id).await.unwrap();
        assert_eq!(third.iter().find(|s| s.id == ids(&first, "/a")).unwrap().status, Open);
        assert_eq!(third.iter().find(|s| s.id == ids(&first, "/c")).unwrap().status, Open);

        // Another event cannot take over `a`, and nothing of it is written.
        let other = MirroredEvent {
            ap_id: "https://remote.example/events/2".into(),
            slots: vec![mirrored_slot("e", t, true, false), mirrored_slot("a", t, true, false)],
            ..event.clone()
        };
        let refused = store.mirror_event(advisor.id, &other, Some("https://remote.example/a/3"), now).await.unwrap();
        assert_eq!(refused, Mirrored::NotOwner, "[{}]", db.backend);
        assert!(store.mirrored_block("https://remote.example/events/2").await.unwrap().is_none());
        assert_eq!(store.block_slots(block_id).await.unwrap(), third, "[{}] unchanged", db.backend);
    }
}

//! Fuzzing the booking input on a real server, on SQLite and PostgreSQL:
//! the API's JSON (`POST /api/v1/blocks`, `POST /api/v1/slots/{id}/requests`)
//! and the pages' forms (`POST /calendar/blocks`, `POST /slots/{id}/request`),
//! with generated bodies that are mostly almost right (dates near today,
//! times to the minute and not, zones real and not, numbers at their
//! edges, unknown fields, wrong types) and sometimes not JSON or not a
//! form at all. Properties: never a 5xx; a refusal is the API's error body
//! (`{"error": code, …}`) or the form again with its errors; and a refused
//! input changes nothing stored (row counts and states of every booking
//! table, mail and deliveries). What is accepted is undone (block removed,
//! request cancelled) so that the next case starts from the same state.
//! Schemathesis (`api_fuzz`) covers the rest of the API from its document.
//! See `support::fuzz` for smoke and session runs.

use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use sqlx::Row;

use crate::support::{self, TestServer, fuzz, test_databases};

/// Everything a booking input could change, read straight from the
/// database (what the handlers write themselves).
async fn fingerprint(pool: &sqlx::AnyPool) -> Vec<i64> {
    let queries = [
        "SELECT COUNT(*) FROM blocks",
        "SELECT COUNT(*) FROM slots",
        "SELECT COUNT(*) FROM slots WHERE cancelled_at IS NOT NULL",
        "SELECT COUNT(*) FROM requests",
        "SELECT COUNT(*) FROM requests WHERE status = 'requested'",
        "SELECT COUNT(*) FROM requests WHERE status = 'approved'",
        "SELECT COALESCE(MAX(updated_at), 0) FROM requests",
        "SELECT COUNT(*) FROM booking_events",
        "SELECT COUNT(*) FROM booking_questions",
        // Not notifications, mail, deliveries or published events: the job
        // loop writes those later, from the booking events and blocks
        // counted here (a block accepted by one case is published while
        // the next runs; the first session took that for a finding).
        "SELECT COUNT(*) FROM karma_events",
        "SELECT COALESCE(MAX(id), 0) FROM booking_questions",
        "SELECT COALESCE(MAX(buffer_minutes), 0) FROM advisor_policies",
        "SELECT COALESCE(MAX(min_notice_minutes), 0) FROM advisor_policies",
        "SELECT COALESCE(MAX(horizon_days), 0) FROM advisor_policies",
        "SELECT COALESCE(MAX(max_per_learner_week), 0) FROM advisor_policies",
    ];
    let mut values = Vec::new();
    for sql in queries {
        let row = sqlx::query(sql).fetch_one(pool).await.expect(sql);
        values.push(row.try_get::<i64, _>(0).expect(sql));
    }
    values
}

/// The server, its people and a pool of our own on its database.
struct Setup {
    server: TestServer,
    pool: sqlx::AnyPool,
    ada: support::api::Api,
    bob: support::api::Api,
    slots: Vec<i64>,
    questions: Vec<i64>,
    /// Today in Ada's zone, for dates near it.
    today: jiff::civil::Date,
}

async fn setup(db: &support::TestDatabase) -> Setup {
    let server = TestServer::start(db).await;
    let ada_user = server.create_advisor("ada").await;
    let bob_user = server.create_user("bob", false).await;
    let ada = server.api_as(&ada_user).await;
    let bob = server.api_as(&bob_user).await;
    let (status, questions) = ada
        .call(
            reqwest::Method::PUT,
            "/api/v1/me/questions",
            Some(json!([
                {"label": "What about?", "kind": "text", "required": true},
                {"label": "Level", "kind": "choice", "choices": ["new", "old"], "required": false}
            ])),
        )
        .await;
    assert_eq!(status, 200, "{questions}");
    let questions = questions.as_array().unwrap().iter().map(|q| q["id"].as_i64().unwrap()).collect();
    let today = server.now().to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").unwrap()).date();
    let day = today.checked_add(jiff::Span::new().days(3)).unwrap();
    let (status, block) = ada
        .post(
            "/api/v1/blocks",
            json!({"start": format!("{day}T10:00"), "end": format!("{day}T12:00"), "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, 201, "{block}");
    let slots = block["slots"].as_array().unwrap().iter().map(|s| s["id"].as_i64().unwrap()).collect();
    let pool = sqlx::AnyPool::connect(&db.url).await.expect("a pool of the test's own");
    Setup { server, pool, ada, bob, slots, questions, today }
}

// ---------------------------------------------------------------------------
// Inputs

fn date_text(today: jiff::civil::Date) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (-3i64..80).prop_map(move |d| today.checked_add(jiff::Span::new().days(d)).unwrap().to_string()),
        1 => Just("2026-02-30".to_string()),
        1 => Just("9999-12-31".to_string()),
        1 => Just("0000-01-01".to_string()),
        1 => "[0-9-]{0,12}",
        1 => ".{0,12}",
    ]
}

fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0..24u8, prop::sample::select(vec![0u8, 10, 15, 30, 45])).prop_map(|(h, m)| format!("{h:02}:{m:02}")),
        1 => Just("24:00".to_string()),
        1 => Just("10:00:30".to_string()),
        1 => Just("10:00Z".to_string()),
        1 => Just("10:00+02:00".to_string()),
        1 => "[0-9:.]{0,8}",
    ]
}

fn zone_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["Europe/Berlin", "UTC", "America/New_York", "Asia/Kathmandu", "Etc/GMT+12"]).prop_map(str::to_string),
        1 => prop::sample::select(vec!["", "Mars/Olympus", "europe/berlin", "+02:00", "CET", "../../etc/passwd"]).prop_map(str::to_string),
        1 => ".{0,20}",
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (0i64..200).prop_map(Value::from),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0, 1_000_000_000]).prop_map(Value::from),
        1 => Just(json!(1.5)),
        1 => Just(json!("10")),
        1 => Just(Value::Null),
    ]
}

fn weekdays() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(vec!["mon", "tue", "wed", "thu", "fri", "sat", "sun", "Mon", "monday", "", "x"]), 0..4)
            .prop_map(|w| json!(w)),
        1 => Just(json!("mon")),
        1 => Just(json!([1, 2])),
    ]
}

/// A wrong-typed value for any field.
fn wrong() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(true)),
        Just(json!(7)),
        Just(json!([])),
        Just(json!({})),
        ".{0,10}".prop_map(Value::String)
    ]
}

fn block_json(today: jiff::civil::Date) -> impl Strategy<Value = Value> {
    let fields = (
        (date_text(today), time_text(), date_text(today), time_text()),
        prop::option::of(zone_text()),
        prop::option::of(date_text(today)),
        prop::option::of(weekdays()),
        prop::collection::vec(
            (
                prop::sample::select(vec![
                    "buffer_minutes",
                    "min_notice_minutes",
                    "horizon_days",
                    "max_per_learner_week",
                ]),
                number(),
            ),
            0..3,
        ),
        prop::option::of((
            prop::sample::select(vec!["approval_required", "unlisted"]),
            prop_oneof![any::<bool>().prop_map(Value::Bool), wrong()],
        )),
        prop::option::of((prop::sample::select(vec!["start", "end", "timezone", "extra", "weekdays"]), wrong())),
        any::<bool>(),
    )
        .prop_map(|((d1, t1, d2, t2), zone, until, weekdays, numbers, flag, spoil, same_day)| {
            let mut map = Map::new();
            map.insert("start".into(), json!(format!("{d1}T{t1}")));
            let end_date = if same_day { &d1 } else { &d2 };
            map.insert("end".into(), json!(format!("{end_date}T{t2}")));
            if let Some(zone) = zone {
                map.insert("timezone".into(), json!(zone));
            }
            if let Some(until) = until {
                map.insert("repeat_weekly_until".into(), json!(until));
            }
            if let Some(weekdays) = weekdays {
                map.insert("weekdays".into(), weekdays);
            }
            for (name, value) in numbers {
                map.insert(name.into(), value);
            }
            if let Some((name, value)) = flag {
                map.insert(name.into(), value);
            }
            if let Some((name, value)) = spoil {
                map.insert(name.into(), value);
            }
            Value::Object(map)
        });
    // A valid block (a day ahead, an hour), changed in one field or not:
    // so that the accepting path is taken too.
    let valid = (1i64..60, 6..20u8, prop::option::of((prop::sample::select(vec!["start", "end", "timezone", "weekdays", "repeat_weekly_until", "horizon_days", "extra"]), wrong())))
        .prop_map(move |(days, hour, spoil)| {
            let day = today.checked_add(jiff::Span::new().days(days)).unwrap();
            let mut value = json!({"start": format!("{day}T{hour:02}:00"), "end": format!("{day}T{:02}:00", hour + 1), "timezone": "Europe/Berlin"});
            if let Some((name, wrong)) = spoil {
                value[name] = wrong;
            }
            value
        });
    prop_oneof![4 => valid, 8 => fields, 1 => crate::fuzz_inbox::json()]
}

/// A body as sent: JSON, or bytes that may not be.
#[derive(Debug, Clone)]
enum Body {
    Json(Value),
    Raw(Vec<u8>),
}

fn body(json: impl Strategy<Value = Value>) -> impl Strategy<Value = Body> {
    prop_oneof![
        9 => json.prop_map(Body::Json),
        1 => prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            Just(b"{\"start\":".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"{\"note\":\"\\ud800\"}".to_vec()),
        ]
        .prop_map(Body::Raw),
    ]
}

fn request_json(slots: Vec<i64>, questions: Vec<i64>) -> impl Strategy<Value = (i64, Value)> {
    let slot = prop_oneof![8 => prop::sample::select(slots), 1 => Just(i64::MAX), 1 => Just(-1i64), 1 => Just(0i64)];
    let required = questions[0];
    let answers = prop_oneof![
        4 => ".{1,20}".prop_map(move |a| json!({required.to_string(): a})),
        4 => prop::collection::vec((prop::sample::select(questions).prop_map(|q| q.to_string()), prop_oneof![3 => ".{0,20}".prop_map(Value::String), 1 => Just(json!("new")), 1 => wrong()]), 0..3)
            .prop_map(|a| Value::Object(a.into_iter().collect())),
        1 => Just(json!({"999999": "x"})),
        1 => wrong(),
    ];
    let note = prop_oneof![4 => ".{0,40}".prop_map(Value::String), 1 => Just(json!("x".repeat(20_000))), 1 => wrong()];
    let link = prop_oneof![".{0,20}".prop_map(Value::String), wrong()];
    let link = prop::option::weighted(0.2, link);
    (slot, prop::option::of(note), prop::option::weighted(0.8, answers), link, prop::option::weighted(0.1, wrong()))
        .prop_map(|(slot, note, answers, link, extra)| {
            let mut map = Map::new();
            for (name, value) in [("note", note), ("answers", answers), ("link", link), ("surprise", extra)] {
                if let Some(value) = value {
                    map.insert(name.into(), value);
                }
            }
            (slot, Value::Object(map))
        })
}

// ---------------------------------------------------------------------------
// Sending and checking

async fn send_json(api: &support::api::Api, path: &str, body: &Body) -> (StatusCode, Value) {
    let mut request = api.http.post(format!("{}{path}", api.base)).bearer_auth(api.token.as_deref().unwrap());
    request = match body {
        Body::Json(value) => request.json(value),
        Body::Raw(bytes) => request.header("content-type", "application/json").body(bytes.clone()),
    };
    let response = request.send().await.expect("the server answers");
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The API's refusal: its JSON error body, and nothing stored.
fn refused_properly(status: StatusCode, body: &Value, before: &[i64], after: &[i64]) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{status}: {body}");
    prop_assert!(body["error"].is_string() && body["message"].is_string(), "not the API's error body: {status} {body}");
    prop_assert_eq!(before, after, "a refused input ({}) changed what is stored: {}", status, body);
    Ok(())
}

/// How many inputs a target saw accepted, to show in its log line that
/// both paths are taken.
static ACCEPTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn accepted() {
    ACCEPTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

fn run_on_each_database(name: &'static str, case: impl Fn(&tokio::runtime::Runtime, &Setup, &'static str)) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for db in runtime.block_on(test_databases()) {
        let setup = runtime.block_on(setup(&db));
        let target: &'static str = Box::leak(format!("{name}_{}", db.backend).into_boxed_str());
        let before = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed);
        case(&runtime, &setup, target);
        let count = ACCEPTED.load(std::sync::atomic::Ordering::Relaxed) - before;
        eprintln!("fuzz {target}: {count} inputs accepted (and undone), the rest refused");
        runtime.block_on(setup.pool.close());
    }
}

#[test]
fn api_blocks_refuse_bad_input_and_store_nothing() {
    run_on_each_database("booking_api_blocks", |runtime, s, target| {
        fuzz::run(target, 60, body(block_json(s.today)), |body| {
            runtime.block_on(async {
                let before = fingerprint(&s.pool).await;
                let (status, answer) = send_json(&s.ada, "/api/v1/blocks", &body).await;
                let after = fingerprint(&s.pool).await;
                if status == StatusCode::CREATED {
                    prop_assert_eq!(after[0], before[0] + 1, "a created block is stored");
                    let count = answer["slot_count"].as_i64().unwrap_or(0);
                    prop_assert!(count >= 1, "a block without slots was created: {answer}");
                    accepted();
                    let id = answer["id"].as_i64().unwrap();
                    let (status, removed) = s.ada.post(&format!("/api/v1/blocks/{id}/remove"), json!({})).await;
                    prop_assert_eq!(status, StatusCode::OK, "{}", removed);
                    return Ok(());
                }
                refused_properly(status, &answer, &before, &after)
            })
        });
    });
}

#[test]
fn api_requests_refuse_bad_input_and_store_nothing() {
    run_on_each_database("booking_api_requests", |runtime, s, target| {
        let strategy = request_json(s.slots.clone(), s.questions.clone())
            .prop_flat_map(|(slot, json)| (Just(slot), body(Just(json))));
        fuzz::run(target, 60, strategy, |(slot, body)| {
            runtime.block_on(async {
                let before = fingerprint(&s.pool).await;
                let (status, answer) = send_json(&s.bob, &format!("/api/v1/slots/{slot}/requests"), &body).await;
                let after = fingerprint(&s.pool).await;
                if status == StatusCode::CREATED {
                    prop_assert_eq!(after[3], before[3] + 1, "a created request is stored");
                    accepted();
                    let id = answer["id"].as_i64().unwrap();
                    let (status, cancelled) = s.bob.post(&format!("/api/v1/requests/{id}/cancel"), json!({})).await;
                    prop_assert_eq!(status, StatusCode::OK, "{}", cancelled);
                    // Cancelling lowers nobody's karma that far in advance,
                    // and the weekly limit counts live requests only.
                    return Ok(());
                }
                refused_properly(status, &answer, &before, &after)
            })
        });
    });
}

/// Form fields as a browser may send them (or not).
fn form(
    names: Vec<&'static str>,
    value: impl Strategy<Value = String> + Clone,
) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(
        (prop_oneof![6 => prop::sample::select(names).prop_map(str::to_string), 1 => "[a-z_]{1,10}"], value),
        0..8,
    )
}

async fn post_form(
    browser: &mut support::Browser,
    base: &str,
    path: &str,
    fields: &[(String, String)],
    raw: Option<&[u8]>,
) -> (StatusCode, String) {
    // A page first, for the CSRF token of this session.
    let form_page = if path.starts_with("/slots/") { path.to_string() } else { "/calendar".to_string() };
    browser.get(&form_page).await;
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let reply = match raw {
        None => browser.post(path, &pairs).await,
        Some(bytes) => {
            let response = browser
                .http
                .post(format!("{base}{path}"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(bytes.to_vec())
                .send()
                .await
                .expect("the server answers");
            let status = response.status();
            return (status, response.text().await.unwrap_or_default());
        }
    };
    (reply.status, reply.body)
}

/// A refused form: the page again (HTML), never a 5xx, nothing stored.
fn form_refused_properly(status: StatusCode, page: &str, before: &[i64], after: &[i64]) -> Result<(), TestCaseError> {
    prop_assert!(!status.is_server_error(), "{status}: {page}");
    prop_assert!(status.is_client_error(), "neither accepted nor refused: {status}");
    prop_assert_eq!(before, after, "a refused form ({}) changed what is stored", status);
    Ok(())
}

#[test]
fn block_forms_refuse_bad_input_and_store_nothing() {
    run_on_each_database("booking_form_blocks", |runtime, s, target| {
        let value =
            prop_oneof![date_text(s.today), time_text(), zone_text(), Just("on".to_string()), Just("mon".to_string())];
        let today = s.today;
        let baseline = (any::<bool>(), 1i64..60, 6..20u8).prop_map(move |(on, days, hour)| {
            let day = today.checked_add(jiff::Span::new().days(days)).unwrap().to_string();
            let fields = [
                ("date", day),
                ("start", format!("{hour:02}:00")),
                ("end", format!("{:02}:00", hour + 1)),
                ("timezone", "Europe/Berlin".into()),
            ];
            if on { fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect() } else { Vec::new() }
        });
        let fields = (
            baseline,
            form(
                vec!["date", "start", "end", "timezone", "until", "weekdays", "auto_approve", "unlisted", "csrf"],
                value,
            ),
            0..3usize,
        )
            .prop_map(|(mut base, random, keep)| {
                // The valid fields, then a few random ones (which may repeat
                // or spoil them).
                base.extend(random.into_iter().take(keep));
                base
            });
        let raw = prop::option::of(prop::collection::vec(any::<u8>(), 0..40));
        let browser = tokio::sync::Mutex::new(support::Browser::new(&s.server.base));
        runtime.block_on(async {
            let mut b = browser.lock().await;
            assert_eq!(b.log_in("ada", support::server::PASSWORD).await.status, 303);
        });
        fuzz::run(target, 40, (fields, raw), |(fields, raw)| {
            runtime.block_on(async {
                let mut browser = browser.lock().await;
                let before = fingerprint(&s.pool).await;
                let (status, page) =
                    post_form(&mut browser, &s.server.base, "/calendar/blocks", &fields, raw.as_deref()).await;
                let after = fingerprint(&s.pool).await;
                if status == StatusCode::SEE_OTHER && after[0] == before[0] + 1 {
                    accepted();
                    // Accepted: remove what was added, through the API.
                    let id: i64 = sqlx::query("SELECT MAX(id) FROM blocks").fetch_one(&s.pool).await.unwrap().get(0);
                    let (status, removed) = s.ada.post(&format!("/api/v1/blocks/{id}/remove"), json!({})).await;
                    prop_assert_eq!(status, StatusCode::OK, "{}", removed);
                    return Ok(());
                }
                form_refused_properly(status, &page, &before, &after)
            })
        });
        drop(browser);
    });
}

#[test]
fn request_forms_refuse_bad_input_and_store_nothing() {
    run_on_each_database("booking_form_requests", |runtime, s, target| {
        let mut names = vec!["note", "link", "csrf"];
        let answer_names: Vec<&'static str> =
            s.questions.iter().map(|q| &*Box::leak(format!("answer_{q}").into_boxed_str())).collect();
        names.extend(answer_names);
        names.push("answer_999999");
        let value = prop_oneof![4 => ".{0,30}", 1 => Just("new".to_string()), 1 => Just("x".repeat(6000))];
        let required = format!("answer_{}", s.questions[0]);
        let fields = (any::<bool>(), form(names, value), 0..3usize).prop_map(move |(on, random, keep)| {
            let mut fields = Vec::new();
            if on {
                fields.push(("note".to_string(), "About the exam".to_string()));
                fields.push((required.clone(), "Calculus".to_string()));
                fields.extend(random.into_iter().take(keep));
            } else {
                fields.extend(random);
            }
            fields
        });
        let raw = prop::option::of(prop_oneof![
            prop::collection::vec(any::<u8>(), 0..40),
            Just(b"note=%FF%FE".to_vec()),
            Just(b"note=a&note=b".to_vec()),
        ]);
        let slot = prop_oneof![6 => prop::sample::select(s.slots.clone()), 1 => Just(i64::MAX)];
        let browser = tokio::sync::Mutex::new(support::Browser::new(&s.server.base));
        runtime.block_on(async {
            let mut b = browser.lock().await;
            assert_eq!(b.log_in("bob", support::server::PASSWORD).await.status, 303);
        });
        fuzz::run(target, 40, (slot, fields, raw), |(slot, fields, raw)| {
            runtime.block_on(async {
                let mut browser = browser.lock().await;
                let before = fingerprint(&s.pool).await;
                let path = format!("/slots/{slot}/request");
                let (status, page) = post_form(&mut browser, &s.server.base, &path, &fields, raw.as_deref()).await;
                let after = fingerprint(&s.pool).await;
                if status == StatusCode::SEE_OTHER && after[3] == before[3] + 1 {
                    accepted();
                    let id: i64 = sqlx::query("SELECT MAX(id) FROM requests").fetch_one(&s.pool).await.unwrap().get(0);
                    let (status, cancelled) = s.bob.post(&format!("/api/v1/requests/{id}/cancel"), json!({})).await;
                    prop_assert_eq!(status, StatusCode::OK, "{}", cancelled);
                    return Ok(());
                }
                form_refused_properly(status, &page, &before, &after)
            })
        });
        drop(browser);
    });
}

#[test]
fn booking_settings_forms_refuse_bad_input_and_store_nothing() {
    run_on_each_database("booking_form_settings", |runtime, s, target| {
        let number = prop_oneof![
            12 => (0i64..200).prop_map(|n| n.to_string()),
            1 => prop::sample::select(vec!["", " 5 ", "-1", "1e3", "9223372036854775808", "-9223372036854775808", "0x10", "½"])
                .prop_map(str::to_string),
            1 => ".{0,8}",
        ];
        let rules = (number.clone(), number.clone(), number.clone(), number).prop_map(|(a, b, c, d)| {
            vec![
                ("buffer_minutes".to_string(), a),
                ("min_notice_minutes".to_string(), b),
                ("horizon_days".to_string(), c),
                ("max_per_learner_week".to_string(), d),
            ]
        });
        let question = (
            0..12usize,
            prop::sample::select(vec!["label", "kind", "choices", "required"]),
            prop_oneof![
                3 => ".{0,20}",
                1 => prop::sample::select(vec!["text", "choice", "yes", "a\nb\n\nc", ""]).prop_map(str::to_string),
                1 => Just("x".repeat(2000)),
            ],
        )
            .prop_map(|(i, name, value)| (format!("q{i}_{name}"), value));
        let extra = prop_oneof![
            question,
            (
                prop::sample::select(vec![
                    "approval_required",
                    "unlisted",
                    "note_optional",
                    "questions_shown",
                    "csrf",
                    "other"
                ]),
                ".{0,4}"
            )
                .prop_map(|(k, v)| (k.to_string(), v)),
        ];
        let fields = (rules, prop::collection::vec(extra, 0..8)).prop_map(|(mut fields, extra)| {
            fields.extend(extra);
            fields
        });
        let raw = prop::option::weighted(0.1, prop::collection::vec(any::<u8>(), 0..40));
        let browser = tokio::sync::Mutex::new(support::Browser::new(&s.server.base));
        runtime.block_on(async {
            let mut b = browser.lock().await;
            assert_eq!(b.log_in("ada", support::server::PASSWORD).await.status, 303);
        });
        fuzz::run(target, 60, (fields, raw), |(fields, raw)| {
            runtime.block_on(async {
                let mut browser = browser.lock().await;
                browser.get("/settings/booking").await;
                let before = fingerprint(&s.pool).await;
                let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                let (status, page) = match raw {
                    None => {
                        let reply = browser.post("/settings/booking", &pairs).await;
                        (reply.status, reply.body)
                    }
                    Some(bytes) => {
                        let response = browser
                            .http
                            .post(s.server.url("/settings/booking"))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(bytes)
                            .send()
                            .await
                            .expect("the server answers");
                        (response.status(), response.text().await.unwrap_or_default())
                    }
                };
                let after = fingerprint(&s.pool).await;
                if status == StatusCode::SEE_OTHER {
                    // Saved: the rules are what was sent (the next case
                    // starts from them).
                    accepted();
                    return Ok(());
                }
                form_refused_properly(status, &page, &before, &after)
            })
        });
    });
}

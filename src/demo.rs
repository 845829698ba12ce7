//! `--demo`: sample advisors and learners so a first visit shows a living
//! instance. Runs only on an empty database.

use crate::service::App;
use crate::service::accounts::{Roles, SignUp};
use crate::service::advisors::AdvisorForm;

/// Every demo account logs in with this password.
pub const DEMO_PASSWORD: &str = "officehours demo password";

struct DemoAdvisor {
    username: &'static str,
    name: &'static str,
    timezone: &'static str,
    headline: &'static str,
    bio: &'static str,
    topics: &'static str,
    categories: &'static [&'static str],
    links: &'static str,
}

const ADVISORS: &[DemoAdvisor] = &[
    DemoAdvisor {
        username: "amara",
        name: "Amara Okafor",
        timezone: "Africa/Lagos",
        headline: "Rust and distributed systems, 12 years building databases",
        bio: "I work on storage engines and consensus. Happy to look at your design, your borrow-checker fight or your first open-source pull request.",
        topics: "Rust, databases, distributed systems, code review",
        categories: &["programming"],
        links: "https://amara.example.org\nhttps://code.example.org/amara",
    },
    DemoAdvisor {
        username: "lukas",
        name: "Lukas Brenner",
        timezone: "Europe/Berlin",
        headline: "Type designer and UI typographer",
        bio: "Type, grids and readable interfaces. Bring a screen you are unsure about and we will make it calmer in ten minutes.",
        topics: "typography, UI design, accessibility",
        categories: &["design"],
        links: "https://lukas-type.example.org",
    },
    DemoAdvisor {
        username: "priya",
        name: "Priya Raman",
        timezone: "Asia/Kolkata",
        headline: "Data scientist; from notebook to production",
        bio: "Statistics, experiment design and getting models out of notebooks. I also mentor people switching into data careers.",
        topics: "statistics, Python, A/B testing, career change",
        categories: &["data-science", "career"],
        links: "https://priya.example.org",
    },
    DemoAdvisor {
        username: "maria",
        name: "María Fernández",
        timezone: "America/Mexico_City",
        headline: "Spanish tutor and translator",
        bio: "Conversation practice, grammar questions and translation reviews, for beginners and for professionals.",
        topics: "Spanish, translation, conversation",
        categories: &["languages", "writing"],
        links: "",
    },
    DemoAdvisor {
        username: "sam",
        name: "Sam Whitfield",
        timezone: "America/New_York",
        headline: "Engineering manager; interviews, promotions, first 90 days",
        bio: "I have hired and coached engineers for a decade. Ask me about interviews, feedback, promotion cases or your first team.",
        topics: "interviews, management, career growth",
        categories: &["career", "business"],
        links: "https://sam.example.org/blog",
    },
    DemoAdvisor {
        username: "ines",
        name: "Inês Carvalho",
        timezone: "Europe/Lisbon",
        headline: "Jazz pianist and composition teacher",
        bio: "Harmony, voicings and how to practise. Bring a tune you are stuck on.",
        topics: "jazz piano, harmony, composition",
        categories: &["music"],
        links: "",
    },
    DemoAdvisor {
        username: "kenji",
        name: "Kenji Watanabe",
        timezone: "Asia/Tokyo",
        headline: "Technical writer; docs people actually read",
        bio: "Documentation structure, API references and READMEs. I review one page live and explain each change.",
        topics: "technical writing, documentation, APIs",
        categories: &["writing", "programming"],
        links: "https://kenji.example.org",
    },
    DemoAdvisor {
        username: "chloe",
        name: "Chloé Martin",
        timezone: "Australia/Sydney",
        headline: "Founder; pricing and first customers",
        bio: "Two bootstrapped companies. Pricing pages, first sales calls and how not to build what nobody buys.",
        topics: "pricing, startups, sales",
        categories: &["business"],
        links: "",
    },
];

const LEARNERS: &[(&str, &str, &str)] = &[
    ("noah", "Noah Schmidt", "Europe/Berlin"),
    ("aisha", "Aisha Bello", "Europe/London"),
    ("tom", "Tom Nguyen", "America/Los_Angeles"),
    ("yuki", "Yuki Sato", "Asia/Tokyo"),
];

pub async fn fill_if_empty(app: &App) -> anyhow::Result<()> {
    if app.count_users().await? > 0 {
        tracing::info!("--demo: the database already has accounts, so no demo data was added");
        return Ok(());
    }
    let roles = Roles { verified: true, ..Roles::default() };
    let email_domain = app.config.domain.split(':').next().unwrap_or("localhost").to_string();
    let email_domain = if email_domain.contains('.') { email_domain } else { "example.org".into() };
    let mut advisors = Vec::new();
    for a in ADVISORS {
        let input = SignUp {
            username: a.username.into(),
            email: format!("{}@{email_domain}", a.username),
            password: DEMO_PASSWORD.into(),
            display_name: a.name.into(),
            timezone: a.timezone.into(),
        };
        let user = app.sign_up(&input, roles).await.map_err(|e| anyhow::anyhow!("demo advisor: {e}"))?;
        let form = AdvisorForm {
            enabled: true,
            headline: a.headline.into(),
            bio: a.bio.into(),
            topics: vec![a.topics.into()],
            categories: a.categories.iter().map(|c| c.to_string()).collect(),
            links: vec![a.links.into()],
        };
        let saved = app.save_advisor_profile(&user, &form).await.map_err(|e| anyhow::anyhow!("demo profile: {e}"))?;
        advisors.push(saved.user);
    }
    let mut learners = Vec::new();
    for (username, name, timezone) in LEARNERS {
        let input = SignUp {
            username: (*username).into(),
            email: format!("{username}@{email_domain}"),
            password: DEMO_PASSWORD.into(),
            display_name: (*name).into(),
            timezone: (*timezone).into(),
        };
        learners.push(app.sign_up(&input, roles).await.map_err(|e| anyhow::anyhow!("demo learner: {e}"))?);
    }
    add_bookings(app, &advisors, &learners).await?;
    let admin = SignUp {
        username: "demo_admin".into(),
        email: format!("admin@{email_domain}"),
        password: DEMO_PASSWORD.into(),
        display_name: "Demo admin".into(),
        timezone: "UTC".into(),
    };
    app.sign_up(&admin, Roles { admin: true, verified: true, ..Roles::default() })
        .await
        .map_err(|e| anyhow::anyhow!("demo admin: {e}"))?;
    tracing::info!(
        "--demo: added {} advisors (with four weeks of availability, requests and bookings), {} learners and `demo_admin`; every demo account's password is \"{DEMO_PASSWORD}\"",
        ADVISORS.len(),
        LEARNERS.len()
    );
    Ok(())
}

/// Weekly availability for every advisor from tomorrow for four weeks, a few
/// pending requests and some approved sessions.
async fn add_bookings(
    app: &App,
    advisors: &[crate::storage::User],
    learners: &[crate::storage::User],
) -> anyhow::Result<()> {
    use jiff::ToSpan;

    use crate::domain::booking::Action;
    use crate::service::booking::BlockInput;

    const HOURS: [(&str, &str, &[&str]); 4] = [
        ("09:00", "10:00", &["mon", "wed"]),
        ("14:00", "15:00", &["tue", "thu"]),
        ("17:30", "18:30", &["mon", "thu"]),
        ("11:00", "12:00", &["wed", "fri"]),
    ];
    let mut open_slots = Vec::new();
    for (i, advisor) in advisors.iter().enumerate() {
        let today = crate::domain::time_zone::local_date(app.clock.now_ms(), &advisor.timezone)
            .ok_or_else(|| anyhow::anyhow!("demo: bad zone"))?;
        let first = today.checked_add(1.day())?;
        let until = first.checked_add(27.days())?;
        let (from, to, days) = HOURS[i % HOURS.len()];
        let input = BlockInput {
            start: format!("{first}T{from}"),
            end: format!("{first}T{to}"),
            timezone: advisor.timezone.clone(),
            repeat_weekly_until: Some(until.to_string()),
            weekdays: days.iter().map(|d| d.to_string()).collect(),
            ..Default::default()
        };
        let (_, slots) = app.create_block(advisor, &input).await.map_err(|e| anyhow::anyhow!("demo block: {e}"))?;
        open_slots.push((advisor.clone(), slots));
    }
    // Each learner asks two advisors for a session; every other request is approved.
    let mut n = 0;
    for (l, learner) in learners.iter().enumerate() {
        for k in 0..2 {
            let (advisor, slots) = &open_slots[(l * 2 + k) % open_slots.len()];
            let Some(slot) = slots.get(2 + l) else { continue };
            let note = ["Feedback on my project plan", "How to get started", "Review of my portfolio"][n % 3];
            let Ok(request) = app.request_slot(learner, slot.id, note, &serde_json::Value::Null, None).await else {
                continue;
            };
            if n % 2 == 0 {
                let _ = app.decide(advisor, request.id, Action::Approve, "Looking forward to it!").await;
            }
            if k == 0 {
                // A short exchange, so the messages and activity pages have something to show.
                let hello = format!("Hi {}, I'd love to talk about: {}.", advisor.name(), note.to_lowercase());
                let _ = app.send_message(learner, &advisor.username, &hello).await;
                let _ =
                    app.send_message(advisor, &learner.username, "Great, see you then! Bring a few questions.").await;
            }
            n += 1;
        }
    }
    Ok(())
}

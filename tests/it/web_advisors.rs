//! Becoming an advisor, the directory and profiles, and the admin's
//! categories, through the web pages on both databases.

use crate::support;

use reqwest::StatusCode;
use support::server::PASSWORD;
use support::{TestServer, test_databases};

fn names_in(html: &str) -> Vec<String> {
    html.split("class=\"name\">").skip(1).map(|s| s[..s.find('<').unwrap()].to_string()).collect()
}

#[tokio::test]
async fn an_advisor_profile_appears_in_directory_search() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        let mut browser = server.browser();
        assert_eq!(browser.sign_up("rosalind", "rosalind@example.org", PASSWORD).await.status, StatusCode::SEE_OTHER);

        let form = browser.page("/settings/advisor").await;
        assert!(form.contains("value=\"programming\""), "the admin's categories are offered");
        let fields = [
            ("enabled", "on"),
            ("headline", "Crystallography and lab careers"),
            ("bio", "X-ray diffraction.\n\nAsk me anything."),
            ("topics", "X-ray, DNA structure, lab careers"),
            ("categories", "data-science"),
            ("categories", "career"),
            ("links", "https://rosalind.example.org\nhttps://lab.example.org/rf"),
        ];
        let unverified = browser.post("/settings/advisor", &fields).await;
        assert_eq!(unverified.status, StatusCode::FORBIDDEN, "[{}]", db.backend);
        assert!(unverified.body.contains("Confirm your e-mail address"));
        assert!(unverified.body.contains("Crystallography and lab careers"), "input kept");
        assert!(!server.store.user_by_username("rosalind").await.unwrap().is_advisor);

        let link = server.wait_for_link("rosalind@example.org", "Confirm").await;
        browser.get(&link).await;

        let mut bad = fields.to_vec();
        bad[4] = ("categories", "astrology");
        let reply = browser.post("/settings/advisor", &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("There is no category"));
        let mut bad = fields.to_vec();
        bad[6] = ("links", "javascript:alert(1)");
        let reply = browser.post("/settings/advisor", &bad).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.body.contains("is not a web address"));
        assert!(!server.store.user_by_username("rosalind").await.unwrap().is_advisor, "nothing saved");

        let reply = browser.post("/settings/advisor", &fields).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, reply.body);
        server.create_user("bystander", false).await;

        let mut visitor = server.browser();
        for query in [
            "/advisors",
            "/advisors?q=rosalind",
            "/advisors?q=dna",
            "/advisors?q=CRYSTAL+careers",
            "/advisors?category=career",
        ] {
            let page = visitor.page(query).await;
            assert_eq!(names_in(&page), vec!["rosalind"], "[{}] {query}", db.backend);
        }
        for query in ["/advisors?q=astronomy", "/advisors?category=music", "/advisors?q=dna+music"] {
            let page = visitor.page(query).await;
            assert!(names_in(&page).is_empty(), "[{}] {query}", db.backend);
            assert!(page.contains("No advisor matches"));
        }
        let unknown = visitor.get("/advisors?category=astrology").await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.body.contains("There is no category"));

        let profile = visitor.page("/users/rosalind").await;
        for expected in [
            "Crystallography and lab careers",
            "DNA structure",
            "https://rosalind.example.org/",
            "Data science",
            "Ask me anything.",
        ] {
            assert!(profile.contains(expected), "profile shows {expected}");
        }
        let home = visitor.page("/").await;
        assert_eq!(names_in(&home), vec!["rosalind"], "home lists new advisors");

        let off = browser.post("/settings/advisor", &[("headline", "Away")]).await;
        assert_eq!(off.status, StatusCode::SEE_OTHER);
        assert!(names_in(&visitor.page("/advisors").await).is_empty(), "switched off: not listed");
    }
}

#[tokio::test]
async fn directory_escapes_wildcards_and_pages_results() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        for i in 0..23 {
            let user = server.create_user(&format!("adv{i:02}"), false).await;
            let form = officehours::service::advisors::AdvisorForm {
                enabled: true,
                headline: if i == 7 { "100% pure_rust".into() } else { "general advice".into() },
                ..Default::default()
            };
            server.app.save_advisor_profile(&user, &form).await.unwrap();
        }
        let mut visitor = server.browser();
        let first = visitor.page("/advisors").await;
        assert_eq!(names_in(&first).len(), 20);
        assert!(first.contains("23 advisors") && first.contains("Page 1 of 2"), "{first}");
        let past_the_end = visitor.page("/advisors?page=9").await;
        assert!(names_in(&past_the_end).is_empty() && past_the_end.contains("23 advisors"), "[{}]", db.backend);
        let second = visitor.page("/advisors?page=2").await;
        assert_eq!(names_in(&second), vec!["adv20", "adv21", "adv22"]);
        assert_eq!(names_in(&visitor.page("/advisors?q=100%25").await), vec!["adv07"], "[{}] % is literal", db.backend);
        assert_eq!(names_in(&visitor.page("/advisors?q=e_r").await), vec!["adv07"], "[{}] _ is literal", db.backend);
    }
}

#[tokio::test]
async fn admins_manage_categories_and_others_cannot() {
    for db in test_databases().await {
        let server = TestServer::start(&db).await;
        server.create_user("boss", true).await;
        server.create_user("pleb", false).await;

        let mut pleb = server.browser();
        pleb.log_in("pleb", PASSWORD).await;
        assert_eq!(pleb.get("/admin/categories").await.status, StatusCode::FORBIDDEN);
        pleb.page("/").await;
        let denied = pleb.post("/admin/categories", &[("name", "Cooking")]).await;
        assert_eq!(denied.status, StatusCode::FORBIDDEN);
        assert!(!pleb.page("/").await.contains("href=\"/admin/"), "navigation shows only what works");

        let mut boss = server.browser();
        boss.log_in("boss", PASSWORD).await;
        assert!(boss.page("/").await.contains("href=\"/admin/users\""));
        boss.page("/admin/categories").await;
        let added = boss.post("/admin/categories", &[("name", "Home cooking")]).await;
        assert_eq!(added.status, StatusCode::SEE_OTHER, "[{}] {}", db.backend, added.body);
        assert!(boss.page("/admin/categories").await.contains("home-cooking"));
        let duplicate = boss.post("/admin/categories", &[("name", "home cooking")]).await;
        assert_eq!(duplicate.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(duplicate.body.contains("already exists"));
        assert!(duplicate.body.contains("value=\"home cooking\""), "input kept");
        let empty = boss.post("/admin/categories", &[("name", "  ")]).await;
        assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);

        let user = server.store.user_by_username("pleb").await.unwrap();
        let form = officehours::service::advisors::AdvisorForm {
            enabled: true,
            categories: vec!["home-cooking".into()],
            ..Default::default()
        };
        server.app.save_advisor_profile(&user, &form).await.unwrap();
        let removed = boss.post("/admin/categories/home-cooking/delete", &[]).await;
        assert_eq!(removed.status, StatusCode::SEE_OTHER);
        let profile = server.store.advisor_profile("pleb").await.unwrap();
        assert!(profile.categories.is_empty(), "[{}] advisors lose a deleted category", db.backend);
        let gone = boss.post("/admin/categories/home-cooking/delete", &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
    }
}

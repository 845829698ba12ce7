//! What a valid advisor profile is: headline, topics, links, categories.

use super::validation::{FieldError, bounded_text, field_error};

pub const HEADLINE_MAX: usize = 120;
pub const TOPICS_MAX: usize = 12;
pub const TOPIC_MAX: usize = 40;
pub const LINKS_MAX: usize = 5;
pub const LINK_MAX: usize = 300;
pub const CATEGORIES_MAX: usize = 5;

pub fn headline(value: &str) -> Result<String, FieldError> {
    let text = bounded_text("headline", "A headline", value, HEADLINE_MAX)?;
    if text.contains('\n') {
        return Err(field_error("headline", "invalid_characters", "A headline fits on one line."));
    }
    Ok(text)
}

/// Topics from a comma-separated list (the web form) or a list (the API):
/// trimmed, de-duplicated ignoring case, order kept.
pub fn topics<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for raw in values.into_iter().flat_map(|v| v.split(',')) {
        let topic = raw.split_whitespace().collect::<Vec<_>>().join(" ");
        if topic.is_empty() || out.iter().any(|t| t.eq_ignore_ascii_case(&topic)) {
            continue;
        }
        if topic.chars().count() > TOPIC_MAX {
            return Err(field_error(
                "topics",
                "too_long",
                format!("Each topic can be at most {TOPIC_MAX} characters (\"{topic}\" is longer)."),
            ));
        }
        if topic.chars().any(char::is_control) {
            return Err(field_error("topics", "invalid_characters", "Topics cannot contain control characters."));
        }
        out.push(topic);
    }
    if out.len() > TOPICS_MAX {
        return Err(field_error("topics", "too_many", format!("List at most {TOPICS_MAX} topics.")));
    }
    Ok(out)
}

/// Links to the advisor's own pages: absolute http(s) URLs, one per line.
pub fn links<'a>(values: impl IntoIterator<Item = &'a str>) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for raw in values.into_iter().flat_map(str::lines) {
        let link = raw.trim();
        if link.is_empty() {
            continue;
        }
        if link.len() > LINK_MAX {
            return Err(field_error("links", "too_long", format!("A link can be at most {LINK_MAX} characters.")));
        }
        let parsed = url::Url::parse(link)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.username().is_empty());
        let Some(parsed) = parsed else {
            return Err(field_error(
                "links",
                "invalid_url",
                format!("\"{link}\" is not a web address; links start with https://."),
            ));
        };
        let normalised = parsed.to_string();
        if !out.contains(&normalised) {
            out.push(normalised);
        }
    }
    if out.len() > LINKS_MAX {
        return Err(field_error("links", "too_many", format!("Add at most {LINKS_MAX} links.")));
    }
    Ok(out)
}

/// Chosen categories must all exist on this instance.
pub fn categories(chosen: &[String], known: &[String]) -> Result<Vec<String>, FieldError> {
    let mut out: Vec<String> = Vec::new();
    for slug in chosen {
        let slug = slug.trim();
        if slug.is_empty() || out.iter().any(|s| s == slug) {
            continue;
        }
        if !known.iter().any(|k| k == slug) {
            return Err(field_error(
                "categories",
                "unknown_category",
                format!("There is no category \"{slug}\" on this instance."),
            ));
        }
        out.push(slug.to_string());
    }
    if out.len() > CATEGORIES_MAX {
        return Err(field_error("categories", "too_many", format!("Pick at most {CATEGORIES_MAX} categories.")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_are_split_trimmed_and_deduplicated() {
        assert_eq!(topics(["Rust, async  Rust ,rust,, SQL"]).unwrap(), vec!["Rust", "async Rust", "SQL"]);
        assert_eq!(topics(["x", "y", "X"]).unwrap(), vec!["x", "y"]);
        let many: Vec<String> = (0..13).map(|i| format!("topic {i}")).collect();
        assert_eq!(topics(many.iter().map(String::as_str)).unwrap_err().code, "too_many");
        assert_eq!(topics([&"x".repeat(41) as &str]).unwrap_err().code, "too_long");
    }

    #[test]
    fn links_must_be_web_addresses() {
        assert_eq!(
            links(["https://example.org/me\n\nhttp://blog.example"]).unwrap(),
            vec!["https://example.org/me", "http://blog.example/"]
        );
        assert_eq!(links(["javascript:alert(1)"]).unwrap_err().code, "invalid_url");
        assert_eq!(links(["example.org"]).unwrap_err().code, "invalid_url");
        assert_eq!(links(["https://user:pw@example.org"]).unwrap_err().code, "invalid_url");
        let six = (0..6).map(|i| format!("https://e{i}.org")).collect::<Vec<_>>().join("\n");
        assert_eq!(links([six.as_str()]).unwrap_err().code, "too_many");
    }

    #[test]
    fn categories_must_exist() {
        let known = vec!["design".to_string(), "programming".to_string()];
        assert_eq!(categories(&["design".into(), "design".into()], &known).unwrap(), vec!["design"]);
        assert_eq!(categories(&["cooking".into()], &known).unwrap_err().code, "unknown_category");
    }

    #[test]
    fn headline_is_one_line() {
        assert_eq!(headline(" Rust mentor ").unwrap(), "Rust mentor");
        assert_eq!(headline("a\nb").unwrap_err().code, "invalid_characters");
        assert_eq!(headline(&"h".repeat(121)).unwrap_err().code, "too_long");
    }
}

//! Counted words in plain English: "1 session", "3 sessions", "no sessions".

/// `n` and the word, singular for one: `count(3, "session")` is
/// "3 sessions", `count(1, "request")` "1 request".
pub fn count(n: impl Into<i64>, word: &str) -> String {
    let n = n.into();
    if n == 1 { format!("1 {word}") } else { format!("{n} {}", plural(word)) }
}

/// The plural of the few nouns pages count.
fn plural(word: &str) -> String {
    match word {
        "person" => "people".to_string(),
        // A consonant and y: "entry", "entries"; a vowel and y: "day", "days".
        w if w.ends_with('y') && !w[..w.len() - 1].ends_with(['a', 'e', 'i', 'o', 'u']) => {
            format!("{}ies", &w[..w.len() - 1])
        }
        w if w.ends_with('s') || w.ends_with("ch") || w.ends_with("sh") => format!("{w}es"),
        w => format!("{w}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::count;

    #[test]
    fn one_is_singular_and_everything_else_plural() {
        assert_eq!(count(1, "session"), "1 session");
        assert_eq!(count(0, "session"), "0 sessions");
        assert_eq!(count(18, "session"), "18 sessions");
        assert_eq!(count(2, "entry"), "2 entries");
        assert_eq!(count(2, "day"), "2 days");
        assert_eq!(count(2, "key"), "2 keys");
        assert_eq!(count(3, "person"), "3 people");
        assert_eq!(count(2u32, "match"), "2 matches");
    }
}

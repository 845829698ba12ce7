//! How to prepare for a session: the few tips shown on the request form, on
//! the help page and in the approval message, in one place.

use super::room::EARLY_MS;

/// Minutes the room opens before a session starts.
pub fn early_minutes() -> i64 {
    EARLY_MS / 60_000
}

/// The tips, in the order a person needs them.
pub fn tips() -> Vec<String> {
    vec![
        "Say in the note what you want to leave with, and the context the advisor needs: what you tried, where \
         you are stuck, links they should read first."
            .to_string(),
        format!(
            "Check your microphone and speakers in the session room before the start: the room opens {} \
             minutes early, so you can choose your microphone and try it.",
            early_minutes()
        ),
        "Have the links, code or files you want to show ready to paste into the room's chat.".to_string(),
    ]
}

/// The tips as a block of mail or message text.
pub fn as_text() -> String {
    let lines: Vec<String> = tips().into_iter().map(|tip| format!("- {tip}")).collect();
    format!("How to prepare:\n{}", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tips_name_the_note_the_microphone_and_the_early_minutes() {
        let text = as_text();
        assert!(text.starts_with("How to prepare:\n- "));
        assert!(text.contains("in the note"));
        assert!(text.contains("microphone"));
        assert!(text.contains(&format!("opens {} minutes early", early_minutes())));
    }
}

//! Booking questions: what an advisor asks every learner who requests a
//! session (short text or a choice, required or optional), and checking the
//! answers against them.

use std::collections::BTreeMap;

use super::validation::{FieldError, bounded_text, field_error};

pub const QUESTIONS_MAX: usize = 5;
pub const LABEL_MAX: usize = 200;
pub const CHOICES_MAX: usize = 10;
pub const CHOICE_MAX: usize = 80;
pub const ANSWER_MAX: usize = 2000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Text,
    Choice(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    pub id: i64,
    pub label: String,
    pub kind: Kind,
    pub required: bool,
}

/// A question as the advisor typed it.
#[derive(Debug, Clone, Default)]
pub struct QuestionInput {
    pub label: String,
    /// `text` or `choice`.
    pub kind: String,
    /// One choice per line, for `choice`.
    pub choices: String,
    pub required: bool,
}

/// Checks and normalises an advisor's questions; blank ones are dropped.
pub fn questions(inputs: &[QuestionInput]) -> Result<Vec<(String, Kind, bool)>, FieldError> {
    let mut out = Vec::new();
    for input in inputs {
        let label = bounded_text("questions", "A question", &input.label, LABEL_MAX)?;
        if label.is_empty() {
            continue;
        }
        let kind = match input.kind.as_str() {
            "text" | "" => Kind::Text,
            "choice" => {
                let choices: Vec<String> =
                    input.choices.lines().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string).collect();
                if choices.len() < 2 || choices.len() > CHOICES_MAX {
                    return Err(field_error(
                        "questions",
                        "invalid_choices",
                        format!("“{label}” needs between 2 and {CHOICES_MAX} choices, one per line."),
                    ));
                }
                if choices.iter().any(|c| c.chars().count() > CHOICE_MAX) {
                    return Err(field_error(
                        "questions",
                        "too_long",
                        format!("Each choice can be at most {CHOICE_MAX} characters."),
                    ));
                }
                Kind::Choice(choices)
            }
            other => {
                return Err(field_error(
                    "questions",
                    "invalid_kind",
                    format!("`{other}` is not a question kind (text or choice)."),
                ));
            }
        };
        out.push((label, kind, input.required));
    }
    if out.len() > QUESTIONS_MAX {
        return Err(field_error("questions", "too_many", format!("Ask at most {QUESTIONS_MAX} questions.")));
    }
    Ok(out)
}

/// Checks a learner's answers (question id → text) against the questions and
/// returns them keyed by id, without blanks.
pub fn answers(
    questions: &[Question],
    given: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, FieldError> {
    for key in given.keys() {
        if !questions.iter().any(|q| q.id.to_string() == *key) {
            return Err(field_error("answers", "unknown_question", format!("There is no question `{key}`.")));
        }
    }
    let mut out = BTreeMap::new();
    for q in questions {
        let answer = given.get(&q.id.to_string()).map(|a| a.trim()).unwrap_or_default();
        if answer.is_empty() {
            if q.required {
                return Err(field_error("answers", "answer_required", format!("Please answer “{}”.", q.label)));
            }
            continue;
        }
        if answer.chars().count() > ANSWER_MAX {
            return Err(field_error(
                "answers",
                "too_long",
                format!("An answer can be at most {ANSWER_MAX} characters."),
            ));
        }
        if let Kind::Choice(choices) = &q.kind
            && !choices.iter().any(|c| c == answer)
        {
            return Err(field_error(
                "answers",
                "invalid_choice",
                format!("“{answer}” is not one of the choices for “{}”.", q.label),
            ));
        }
        out.insert(q.id.to_string(), answer.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs() -> Vec<Question> {
        vec![
            Question {
                id: 1,
                label: "Your level?".into(),
                kind: Kind::Choice(vec!["Beginner".into(), "Expert".into()]),
                required: true,
            },
            Question { id: 2, label: "Repository link".into(), kind: Kind::Text, required: false },
        ]
    }

    fn given(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn answers_are_checked_against_the_questions() {
        assert_eq!(answers(&qs(), &given(&[("1", "Expert")])).unwrap(), given(&[("1", "Expert")]));
        assert_eq!(answers(&qs(), &given(&[("1", "Expert"), ("2", " x ")])).unwrap()["2"], "x");
        assert_eq!(answers(&qs(), &given(&[])).unwrap_err().code, "answer_required");
        assert_eq!(answers(&qs(), &given(&[("1", "Wizard")])).unwrap_err().code, "invalid_choice");
        assert_eq!(answers(&qs(), &given(&[("1", "Expert"), ("9", "?")])).unwrap_err().code, "unknown_question");
        assert_eq!(answers(&[], &given(&[])).unwrap(), BTreeMap::new());
    }

    #[test]
    fn questions_are_validated() {
        let ok =
            QuestionInput { label: "Level?".into(), kind: "choice".into(), choices: "A\n\nB\n".into(), required: true };
        let blank = QuestionInput::default();
        let parsed = questions(&[ok.clone(), blank]).unwrap();
        assert_eq!(parsed, vec![("Level?".to_string(), Kind::Choice(vec!["A".into(), "B".into()]), true)]);
        let one_choice = QuestionInput { choices: "A".into(), ..ok.clone() };
        assert_eq!(questions(&[one_choice]).unwrap_err().code, "invalid_choices");
        let odd = QuestionInput { kind: "essay".into(), ..ok.clone() };
        assert_eq!(questions(&[odd]).unwrap_err().code, "invalid_kind");
        assert_eq!(questions(&vec![ok; 6]).unwrap_err().code, "too_many");
    }
}

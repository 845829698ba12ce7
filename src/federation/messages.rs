//! Direct messages (F4): what a remote person is told — approvals,
//! reminders, cancellations, room links, thread messages — goes out as a
//! `Create(Note)` addressed to that actor alone, with a `Mention` tag, which
//! Mastodon shows as a private mention. Received direct messages land in
//! the local conversation threads (see `requests::receive_note`).

use serde_json::json;

use crate::service::App;
use crate::storage::{NewDelivery, RemoteActor, User};

use super::actors;
use super::error::FederationError;
use super::follows::new_activity_id;

const AS_CONTEXT: &str = "https://www.w3.org/ns/activitystreams";

/// A direct message from a local person to a remote one, ready to queue.
pub fn direct_note(
    app: &App,
    sender: &User,
    to: &RemoteActor,
    text: &str,
    in_reply_to: Option<&str>,
) -> Result<NewDelivery, FederationError> {
    let me = actors::person_id(app, &sender.username)?;
    let create_id = new_activity_id(app, "create")?;
    let note_id = new_activity_id(app, "note")?;
    let handle = format!("@{}@{}", to.username, to.domain);
    let profile = to.url.clone().unwrap_or_else(|| to.ap_id.clone());
    let content = format!(
        "<p><span class=\"h-card\"><a href=\"{}\" class=\"u-url mention\">@<span>{}</span></a></span></p>{}",
        escape(&profile),
        escape(&to.username),
        to_html(text)
    );
    let published = app.clock.now().to_string();
    let mut body = json!({
        "@context": AS_CONTEXT,
        "id": create_id,
        "type": "Create",
        "actor": me,
        "published": published,
        "to": [to.ap_id],
        "cc": [],
        "object": {
            "id": note_id,
            "type": "Note",
            "attributedTo": me,
            "published": published,
            "to": [to.ap_id],
            "cc": [],
            "content": content,
            "tag": [{"type": "Mention", "href": to.ap_id, "name": handle}],
        },
    });
    // Only a reply names what it answers: no `"inReplyTo": null` (Friendica
    // files a note that answers nothing, to one person, mentioning only
    // them, as a private message; a null is one more shape to read).
    if let Some(in_reply_to) = in_reply_to {
        body["object"]["inReplyTo"] = json!(in_reply_to);
    }
    Ok(NewDelivery {
        activity_id: create_id.to_string(),
        sender_id: sender.id,
        inbox: to.inbox.clone(),
        body: body.to_string(),
    })
}

/// Plain text as HTML paragraphs, with web addresses as links.
pub fn to_html(text: &str) -> String {
    text.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|paragraph| {
            let lines: Vec<String> = paragraph.lines().map(linkify).collect();
            format!("<p>{}</p>", lines.join("<br>"))
        })
        .collect()
}

fn linkify(line: &str) -> String {
    line.split(' ')
        .map(|word| {
            if (word.starts_with("https://") || word.starts_with("http://")) && url::Url::parse(word).is_ok() {
                format!("<a href=\"{0}\">{0}</a>", escape(word))
            } else {
                escape(word)
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn text_becomes_paragraphs_with_links_and_nothing_else() {
        let html = super::to_html("Confirmed <b>!</b>\n\nRoom: https://a.example/rooms/1?token=x&y=1\nsee you");
        assert_eq!(
            html,
            "<p>Confirmed &lt;b&gt;!&lt;/b&gt;</p><p>Room: <a href=\"https://a.example/rooms/1?token=x&amp;y=1\">\
             https://a.example/rooms/1?token=x&amp;y=1</a><br>see you</p>"
        );
    }
}

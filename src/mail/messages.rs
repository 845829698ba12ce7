//! The texts of account mails.

use super::Mail;

pub fn verify_email(instance: &str, to: &str, name: &str, link: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Confirm your e-mail address for {instance}"),
        body: format!(
            "Hello {name},\n\nplease confirm that this is your e-mail address by opening this link:\n\n{link}\n\n\
             The link works once and for 48 hours. If you did not sign up on {instance}, ignore this mail.\n"
        ),
    }
}

pub fn password_reset(instance: &str, to: &str, name: &str, link: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Reset your {instance} password"),
        body: format!(
            "Hello {name},\n\nsomeone (hopefully you) asked to reset your password. Choose a new one here:\n\n{link}\n\n\
             The link works once and for one hour. If you did not ask, ignore this mail: your password stays as it is.\n"
        ),
    }
}

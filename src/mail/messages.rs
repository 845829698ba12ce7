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

/// To the owner of an address someone tried to sign up with again.
pub fn sign_up_with_your_address(instance: &str, to: &str, name: &str, login: &str, reset: &str) -> Mail {
    Mail {
        to: to.to_string(),
        subject: format!("Someone tried to sign up on {instance} with your address"),
        body: format!(
            "Hello {name},\n\nsomeone (maybe you) tried to open a new account on {instance} with this e-mail \
             address. You already have an account, so no new one was made.\n\n\
             To log in:\n\n{login}\n\nForgot your password? Choose a new one:\n\n{reset}\n\n\
             If it was not you, ignore this mail: nothing changed.\n"
        ),
    }
}

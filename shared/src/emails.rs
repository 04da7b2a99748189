//! The emails the API sends, as subject and plain-text body: written before the statement that
//! decides whether to queue them, so every path does the same work.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::domain::{Email, EmailCode, PasskeyName};

/// An email ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: &'static str,
    pub body: String,
}

/// Subject of the password-reset email.
pub const RESET_SUBJECT: &str = "Reset your password";
/// Subject of the confirmation email (sign-up, resend, and the new address of a change).
pub const CONFIRM_SUBJECT: &str = "Confirm your email address";
/// Subject of the notice to an address that already has an account.
pub const ALREADY_REGISTERED_SUBJECT: &str = "Someone tried to create an account with your address";
/// Subject of the notice after a password change.
pub const PASSWORD_CHANGED_SUBJECT: &str = "Your password was changed";
/// Subject of the notice to the old address when a change of address is asked for.
pub const EMAIL_CHANGE_SUBJECT: &str = "A change of your account's email address was requested";
/// Subject of the notice after ten wrong second-factor codes.
pub const MFA_LOCKED_SUBJECT: &str = "Two-factor sign-in to your account was locked";
/// Subject of the notice after a sign-in with a recovery code.
pub const RECOVERY_CODE_USED_SUBJECT: &str = "A recovery code was used to sign in to your account";
/// Subject of the notice after TOTP was turned off.
pub const MFA_DISABLED_SUBJECT: &str = "Two-factor authentication was turned off";
/// Subject of the notice after an administrator reset the second factor.
pub const MFA_RESET_SUBJECT: &str = "Two-factor authentication was reset by an administrator";
/// Subject of the goodbye email.
pub const DELETED_SUBJECT: &str = "Your account was deleted";
/// Subject of the notice after a passkey was removed.
pub const PASSKEY_REMOVED_SUBJECT: &str = "A passkey was removed from your account";
/// Subject of the notice that a provider's sign-in was linked to the account.
pub const IDENTITY_LINKED_SUBJECT: &str = "A new way to sign in was linked to your account";

fn minutes(duration: Duration) -> u64 {
    duration.as_secs().div_ceil(60)
}

/// The reset link `<base>#<token>` (the token in the fragment stays out of server and proxy logs,
/// `Referer`s, and, once the page has read it, the browser's history), valid for `ttl`.
pub fn reset(base: &str, token: &SecretString, ttl: Duration) -> Message {
    let link = format!("{base}#{}", token.expose_secret());
    Message {
        subject: RESET_SUBJECT,
        body: format!(
            "Someone asked to reset the password of your account.\n\n\
             Open this link within {} minutes to choose a new password:\n\n{link}\n\n\
             If it was not you, ignore this email: your password stays as it is.",
            minutes(ttl)
        ),
    }
}

/// The confirmation link `<base>#<token>` (the token in the fragment never reaches a server log
/// or a `Referer`) and the code, the only six-digit number in the email.
pub fn confirm(base: &str, token: &SecretString, code: &EmailCode, ttl: Duration) -> Message {
    let hours = ttl.as_secs().div_ceil(3600);
    Message {
        subject: CONFIRM_SUBJECT,
        body: format!(
            "Confirm that this address is yours by opening this link:\n\n{base}#{}\n\n\
             or by entering this code where you signed up: {}\n\n\
             The link and the code work once, for {hours} hour(s). If you did not ask for this, \
             ignore this email: nothing happens without it.",
            token.expose_secret(),
            code.as_str(),
        ),
    }
}

/// To an address that already has an account, when someone signs up (or asks to move an account)
/// with it: no account is created, nothing changes.
pub fn already_registered() -> Message {
    Message {
        subject: ALREADY_REGISTERED_SUBJECT,
        body: "Someone tried to create an account with this email address, which already has one. \
               Nothing was changed.\n\n\
               If it was you, sign in, or reset your password if you forgot it. If it was not, \
               you can ignore this email."
            .to_owned(),
    }
}

/// After a password change: every other session was ended.
pub fn password_changed() -> Message {
    Message {
        subject: PASSWORD_CHANGED_SUBJECT,
        body: "The password of your account was just changed, and every other signed-in device \
               was signed out.\n\n\
               If it was not you, reset your password now and check your account."
            .to_owned(),
    }
}

/// After ten wrong second-factor codes within 15 minutes: someone who has the password is guessing.
pub fn mfa_locked() -> Message {
    Message {
        subject: MFA_LOCKED_SUBJECT,
        body: "Someone entered ten wrong two-factor codes for your account after entering its \
               correct password. Two-factor sign-in is locked for 15 minutes.\n\n\
               If it was not you, your password is known to someone else: change it now."
            .to_owned(),
    }
}

/// After a sign-in completed with a recovery code: `left` codes remain.
pub fn recovery_code_used(left: i64) -> Message {
    Message {
        subject: RECOVERY_CODE_USED_SUBJECT,
        body: format!(
            "Someone signed in to your account with its password and one of its recovery codes. \
             {left} unused recovery codes remain.\n\n\
             If it was not you, change your password now and make new recovery codes."
        ),
    }
}

/// After TOTP was turned off: password sign-ins need one factor again.
pub fn mfa_disabled() -> Message {
    Message {
        subject: MFA_DISABLED_SUBJECT,
        body: "Two-factor authentication was turned off for your account: signing in now needs \
               only the password.\n\n\
               If it was not you, change your password now and turn it back on."
            .to_owned(),
    }
}

/// After an administrator reset the second factor (at the owner's request, say, after a lost
/// phone): password sign-ins need one factor until TOTP is set up again.
pub fn mfa_reset_by_admin() -> Message {
    Message {
        subject: MFA_RESET_SUBJECT,
        body: "An administrator reset two-factor authentication for your account: the \
               authenticator app and the recovery codes no longer work, and signing in now needs \
               only the password. Set up two-factor authentication again from your account page.\n\n\
               If you did not ask for this, change your password now and contact us."
            .to_owned(),
    }
}

/// To the old address, at once, when the account asks to move to `new` (shown masked).
pub fn email_change_requested(new: &Email) -> Message {
    Message {
        subject: EMAIL_CHANGE_SUBJECT,
        body: format!(
            "Your account asked to use a new email address, {}. It takes effect once the new \
             address is confirmed; until then this address stays the account's.\n\n\
             If it was not you, change your password now.",
            masked(new)
        ),
    }
}

/// After the account was deleted.
pub fn deleted() -> Message {
    Message {
        subject: DELETED_SUBJECT,
        body: "Your account and everything in it were deleted. This is the last email you get \
               from us.\n\nIf it was not you, contact support."
            .to_owned(),
    }
}

/// After a passkey was removed: which one (its name, as its owner gave it) and when (`at`, as
/// the database wrote it). It holds nothing secret.
pub fn passkey_removed(name: &PasskeyName, at: &str) -> Message {
    Message {
        subject: PASSKEY_REMOVED_SUBJECT,
        body: format!(
            "The passkey \"{}\" was removed from your account at {at}. It can no longer be used \
             to sign in.\n\n\
             If it was not you, change your password now and check your account's passkeys and \
             sessions.",
            name.as_str()
        ),
    }
}

/// After a provider's identity was linked to the account (by the provider asserting its
/// confirmed address): which provider. It holds nothing secret.
pub fn identity_linked(provider: &str) -> Message {
    Message {
        subject: IDENTITY_LINKED_SUBJECT,
        body: format!(
            "Signing in through \"{provider}\" now opens your account: that provider vouched for \
             your email address.\n\n\
             If it was not you, unlink it from your account's linked identities and change your \
             password; then check your account's sessions."
        ),
    }
}

/// An address with most of its local part and domain hidden: `j***@e***.com`.
pub fn masked(email: &Email) -> String {
    let (local, domain) = email.as_str().rsplit_once('@').expect("an email has an @");
    let first = |text: &str| text.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    let tld = if tld.is_empty() {
        String::new()
    } else {
        format!(".{tld}")
    };
    format!("{}***@{}***{tld}", first(local), first(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_holds_the_link_with_the_token_in_the_fragment_and_one_six_digit_number() {
        let token = SecretString::from("tok_en-123");
        let code = EmailCode::parse("004217").unwrap();
        let message = confirm(
            "http://localhost:5001/verify-email",
            &token,
            &code,
            Duration::from_secs(86_400),
        );
        assert!(
            message
                .body
                .contains("http://localhost:5001/verify-email#tok_en-123"),
            "{}",
            message.body
        );
        let six_digit_numbers: Vec<&str> = message
            .body
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() == 6)
            .collect();
        assert_eq!(six_digit_numbers, ["004217"], "{}", message.body);
    }

    #[test]
    fn addresses_are_masked() {
        let cases = [
            ("jane.doe@example.com", "j***@e***.com"),
            ("a@b.co.uk", "a***@b***.uk"),
        ];
        for (address, expected) in cases {
            assert_eq!(masked(&Email::parse(address).unwrap()), expected);
        }
    }

    #[test]
    fn the_passkey_notice_names_the_passkey_and_when() {
        let name = PasskeyName::parse(Some("Work laptop")).unwrap();
        let message = passkey_removed(&name, "2026-12-05 23:59 UTC");
        assert_eq!(message.subject, PASSKEY_REMOVED_SUBJECT);
        assert!(
            message
                .body
                .contains("\"Work laptop\" was removed from your account at 2026-12-05 23:59 UTC"),
            "{}",
            message.body
        );
    }
}

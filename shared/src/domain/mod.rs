//! Domain types: request fields become these at the edge, and services accept nothing else.

mod admin;
mod assurance;
mod client;
mod code;
mod common_passwords;
mod email;
mod mfa;
mod name;
mod oauth;
mod passkey;
mod password;
mod session;
mod user;

pub use admin::{AuditQuery, PageSize, Principal, UserListQuery, target_user};
pub use assurance::{Aal, Assurance, AuthMethod};
pub use client::{ClientInfo, MAX_USER_AGENT_CHARS};
pub use code::EmailCode;
pub use email::{Email, EmailDigest};
pub use mfa::{RECOVERY_ALPHABET, RECOVERY_CODE_SYMBOLS, RecoveryCode, TotpCode};
pub use name::UserName;
pub use oauth::{CodeChallenge, ProviderName, RedirectTarget, apple_user_name};
pub use passkey::{CeremonyId, PasskeyName};
pub use password::{NewPassword, Password};
pub use session::{LogoutScope, SessionId};
pub use user::{User, UserId};

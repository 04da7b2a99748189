//! Domain types: request fields become these at the edge, and services accept nothing else.

mod common_passwords;
mod email;
mod name;
mod password;
mod user;

pub use email::Email;
pub use name::UserName;
pub use password::{NewPassword, Password};
pub use user::{User, UserId};

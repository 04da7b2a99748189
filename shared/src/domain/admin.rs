//! The admin API's inputs: who is acting, which account, and the pages of its lists, parsed
//! from the path and query at the edge.

use uuid::Uuid;

use super::UserId;
use crate::error::ApiError;

/// Who made an admin call, as the audit log names it: the caller's IAM ARN in AWS, or
/// `admin-token` for the local stand-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal(String);

/// The audit log's column takes this much (`auth_events.actor`); IAM ARNs are far shorter.
const MAX_PRINCIPAL_CHARS: usize = 2048;

impl Principal {
    /// The local stand-in for IAM (`ADMIN_TOKEN`).
    pub fn admin_token() -> Self {
        Principal("admin-token".to_owned())
    }

    /// The ARN API Gateway's IAM authorization put in the request context; `None` when blank or
    /// longer than any ARN.
    pub fn iam(user_arn: &str) -> Option<Self> {
        let arn = user_arn.trim();
        (!arn.is_empty() && arn.chars().count() <= MAX_PRINCIPAL_CHARS)
            .then(|| Principal(arn.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The account an admin route's `{id}` names: anything that is no UUID is no account's.
pub fn target_user(id: Option<&str>) -> Result<UserId, ApiError> {
    id.and_then(|id| Uuid::parse_str(id.trim()).ok())
        .map(UserId::from_uuid)
        .ok_or(ApiError::UserNotFound)
}

/// How many items a page holds: 1 to 100, 50 when not asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u8);

impl PageSize {
    pub const DEFAULT: PageSize = PageSize(50);
    pub const MAX: u8 = 100;

    fn parse(text: Option<&str>) -> Result<Self, ApiError> {
        const PROBLEM: &str = "Query parameter 'limit' must be an integer from 1 to 100";
        let Some(text) = text else {
            return Ok(Self::DEFAULT);
        };
        match text.trim().parse::<u8>() {
            Ok(size) if (1..=Self::MAX).contains(&size) => Ok(PageSize(size)),
            _ => Err(ApiError::InvalidParameter(PROBLEM)),
        }
    }

    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

/// `GET /admin/users`: the accounts whose address starts with `email` (any letter case), in id
/// order, after the account `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserListQuery {
    /// Lower case, as addresses are stored; `None` lists everyone.
    pub email_prefix: Option<String>,
    pub after: Option<UserId>,
    pub limit: PageSize,
}

/// Longest address stored (`users.email`), so the longest prefix worth asking for.
const MAX_EMAIL_CHARS: usize = 254;

impl UserListQuery {
    pub fn parse(
        email: Option<&str>,
        after: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, ApiError> {
        let email_prefix = match email.map(str::trim).filter(|email| !email.is_empty()) {
            Some(email) if email.chars().count() > MAX_EMAIL_CHARS => {
                return Err(ApiError::InvalidParameter(
                    "Query parameter 'email' must be at most 254 characters",
                ));
            }
            // No address holds one, and PostgreSQL's text cannot hold a NUL.
            Some(email) if email.chars().any(char::is_control) => {
                return Err(ApiError::InvalidParameter(
                    "Query parameter 'email' must not contain control characters",
                ));
            }
            Some(email) => Some(email.to_lowercase()),
            None => None,
        };
        let after = match after.map(str::trim).filter(|after| !after.is_empty()) {
            Some(after) => Some(Uuid::parse_str(after).map(UserId::from_uuid).map_err(|_| {
                ApiError::InvalidParameter("Query parameter 'after' must be a user id (a UUID)")
            })?),
            None => None,
        };
        Ok(UserListQuery {
            email_prefix,
            after,
            limit: PageSize::parse(limit)?,
        })
    }
}

/// `GET /admin/audit`: events newest first, of one account or of all, older than event `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub user: Option<UserId>,
    /// An event id (positive): the page starts after it.
    pub after: Option<i64>,
    pub limit: PageSize,
}

impl AuditQuery {
    pub fn parse(
        user_id: Option<&str>,
        after: Option<&str>,
        limit: Option<&str>,
    ) -> Result<Self, ApiError> {
        let user = match user_id.map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => Some(Uuid::parse_str(id).map(UserId::from_uuid).map_err(|_| {
                ApiError::InvalidParameter("Query parameter 'user_id' must be a user id (a UUID)")
            })?),
            None => None,
        };
        let after = match after.map(str::trim).filter(|after| !after.is_empty()) {
            Some(after) => Some(after.parse::<i64>().ok().filter(|id| *id > 0).ok_or(
                ApiError::InvalidParameter(
                    "Query parameter 'after' must be an event id (a positive integer)",
                ),
            )?),
            None => None,
        };
        Ok(AuditQuery {
            user,
            after,
            limit: PageSize::parse(limit)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "5f0c6a38-3c1b-4d7e-9a55-2f1d0e4b8c91";

    #[test]
    fn pages_are_50_by_default_and_1_to_100_when_asked() {
        assert_eq!(PageSize::parse(None).unwrap(), PageSize::DEFAULT);
        assert_eq!(PageSize::parse(Some(" 1 ")).unwrap().get(), 1);
        assert_eq!(PageSize::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "", "ten", "1e2", "255", "99999999999"] {
            let error = PageSize::parse(Some(bad)).unwrap_err();
            assert_eq!(error.code(), "invalid_parameter", "{bad}");
        }
    }

    #[test]
    fn the_user_list_takes_a_lower_cased_prefix_and_an_id_cursor() {
        let query = UserListQuery::parse(Some(" Alice@"), Some(ID), Some("10")).unwrap();
        assert_eq!(query.email_prefix.as_deref(), Some("alice@"));
        assert_eq!(query.after.unwrap().as_uuid().to_string(), ID);
        assert_eq!(query.limit.get(), 10);
        let everyone = UserListQuery::parse(Some(""), None, None).unwrap();
        assert_eq!(everyone.email_prefix, None);
        let long = "a".repeat(255);
        for (email, after) in [
            (Some(long.as_str()), None),
            (Some("a\0b"), None),
            (Some("tab\there"), None),
            (None, Some("not-a-uuid")),
        ] {
            let error = UserListQuery::parse(email, after, None).unwrap_err();
            assert_eq!(error.code(), "invalid_parameter");
        }
    }

    #[test]
    fn the_audit_list_takes_a_user_and_a_positive_event_id() {
        let query = AuditQuery::parse(Some(ID), Some("42"), None).unwrap();
        assert_eq!(query.after, Some(42));
        assert!(query.user.is_some());
        for (user, after) in [
            (Some("nope"), None),
            (None, Some("0")),
            (None, Some("-3")),
            (None, Some("x")),
        ] {
            let error = AuditQuery::parse(user, after, None).unwrap_err();
            assert_eq!(error.code(), "invalid_parameter", "{user:?} {after:?}");
        }
    }

    #[test]
    fn a_target_that_is_no_uuid_is_no_account() {
        assert!(target_user(Some(ID)).is_ok());
        for bad in [None, Some(""), Some("1"), Some("../audit")] {
            assert_eq!(target_user(bad).unwrap_err().code(), "user_not_found");
        }
    }

    #[test]
    fn principals_are_the_arn_or_the_local_token() {
        assert_eq!(Principal::admin_token().as_str(), "admin-token");
        let arn = "arn:aws:sts::123456789012:assumed-role/Admin/alice";
        assert_eq!(Principal::iam(arn).unwrap().as_str(), arn);
        assert!(Principal::iam("  ").is_none());
        assert!(Principal::iam(&"a".repeat(2049)).is_none());
    }
}

//! Session-related request fields: which sessions a logout ends, which session a path names.

use uuid::Uuid;

use crate::error::ApiError;

/// `POST /api/logout`'s optional `scope`: the caller's session (`"local"`, the default) or all
/// of the user's sessions (`"global"`), as in GoTrue and Keycloak.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogoutScope {
    #[default]
    Local,
    Global,
}

impl LogoutScope {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        match raw {
            "local" => Ok(LogoutScope::Local),
            "global" => Ok(LogoutScope::Global),
            _ => Err(ApiError::InvalidJson(
                "Field 'scope' must be \"local\" or \"global\"".into(),
            )),
        }
    }
}

/// The `{id}` of `/api/sessions/{id}`. Anything but a UUID names no session: `session_not_found`,
/// the same answer as another user's session, so ids cannot be probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionId(Uuid);

impl SessionId {
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        Uuid::parse_str(raw)
            .map(SessionId)
            .map_err(|_| ApiError::SessionNotFound)
    }

    pub fn as_uuid(self) -> Uuid {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_anything_else_is_invalid_json() {
        assert_eq!(LogoutScope::parse("global").unwrap(), LogoutScope::Global);
        assert_eq!(LogoutScope::parse("local").unwrap(), LogoutScope::Local);
        for bad in ["Global", "all", ""] {
            assert_eq!(LogoutScope::parse(bad).unwrap_err().code(), "invalid_json");
        }
    }

    #[test]
    fn session_ids_are_uuids() {
        let id = Uuid::new_v4();
        assert_eq!(SessionId::parse(&id.to_string()).unwrap().as_uuid(), id);
        for bad in ["1", "not-a-uuid", "../x", ""] {
            assert_eq!(
                SessionId::parse(bad).unwrap_err().code(),
                "session_not_found"
            );
        }
    }
}

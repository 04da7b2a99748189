//! How long the audit trail is kept: `AUDIT_RETENTION_DAYS`.

use std::time::Duration;

use super::{ConfigError, Environment};

/// The shortest retention the database accepts (see `prune_auth_events` in
/// `migrations/V7__audit_retention.sql`): a misconfiguration cannot erase recent history.
pub const MIN_AUDIT_RETENTION_DAYS: u32 = 30;

/// What the janitor keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// `AUDIT_RETENTION_DAYS` (365, at least 30): audit events older than this are deleted.
    pub audit_events: Duration,
}

impl Retention {
    pub(super) fn load(env: &Environment) -> Result<Self, ConfigError> {
        let days = env.count("AUDIT_RETENTION_DAYS", 365)?;
        if days < MIN_AUDIT_RETENTION_DAYS {
            return Err(ConfigError::new(
                "AUDIT_RETENTION_DAYS",
                format!("must be at least {MIN_AUDIT_RETENTION_DAYS}"),
            ));
        }
        Ok(Retention {
            audit_events: Duration::from_secs(u64::from(days) * 24 * 60 * 60),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Retention, ConfigError> {
        Retention::load(&Environment::from_pairs(
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        ))
    }

    #[test]
    fn a_year_by_default_and_never_under_thirty_days() {
        assert_eq!(
            load(&[]).unwrap().audit_events,
            Duration::from_secs(365 * 86_400)
        );
        assert_eq!(
            load(&[("AUDIT_RETENTION_DAYS", "30")])
                .unwrap()
                .audit_events,
            Duration::from_secs(30 * 86_400)
        );
        for short in ["29", "0", "-1", "soon"] {
            let error = load(&[("AUDIT_RETENTION_DAYS", short)]).unwrap_err();
            assert_eq!(error.variable, "AUDIT_RETENTION_DAYS", "{short}");
        }
    }
}

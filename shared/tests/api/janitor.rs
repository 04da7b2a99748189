//! The janitor's pruning: expired and long-ended rows go, live ones stay.

use crate::helpers::{PASSWORD, TestApp};

#[tokio::test]
async fn expired_rows_are_deleted_and_live_ones_kept() {
    let app = TestApp::spawn().await;
    let live = app.signed_in_user("live@example.com").await;
    app.signed_in_user("old@example.com").await;
    app.requested_reset_token("old@example.com").await;
    let old_session = "(SELECT s.id FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.email = 'old@example.com')";
    let logged_out = app.signin("old@example.com", PASSWORD).await;
    assert_eq!(
        app.logout(&logged_out.str("access_token"))
            .await
            .status
            .as_u16(),
        200
    );
    // Age the old user's rows past every limit; the live user's stay as they are.
    app.db
        .batch_execute(&format!(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE session_id IN {old_session};
             UPDATE revoked_tokens SET expires_at = now() - interval '1 minute';
             UPDATE reset_tokens SET expires_at = now() - interval '1 minute';
             UPDATE sessions SET revoked_at = now() - interval '8 days' WHERE revoked_at IS NOT NULL;
             UPDATE sessions SET expires_at = now() - interval '8 days'
                 WHERE id IN {old_session} AND revoked_at IS NULL;
             UPDATE email_outbox SET created_at = now() - interval '8 days';"
        ))
        .await
        .unwrap();

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!(report.sessions, 2, "{report:?}");
    assert_eq!(
        (
            report.refresh_tokens,
            report.revoked_tokens,
            report.reset_tokens,
            report.emails_pruned
        ),
        (2, 1, 1, 3),
        "the reset email and the two confirmation emails"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM sessions").await,
        1,
        "the live session stays"
    );
    assert_eq!(app.count("SELECT count(*) FROM refresh_tokens").await, 1);
    assert_eq!(
        app.dashboard(&live.str("access_token"))
            .await
            .status
            .as_u16(),
        200
    );
    assert_eq!(
        app.refresh(&live.str("refresh_token"))
            .await
            .status
            .as_u16(),
        200
    );
    let again = auth::janitor::sweep(&app.app).await.unwrap();
    assert_eq!(
        (again.sessions, again.refresh_tokens),
        (0, 0),
        "nothing left to prune"
    );
}

/// Inserts one audit event `days` old.
async fn event_aged(app: &TestApp, days: i32) {
    app.db
        .execute(
            "INSERT INTO auth_events (kind, occurred_at) VALUES ('signin_failed', now() - make_interval(days => $1))",
            &[&days],
        )
        .await
        .unwrap();
}

async fn event_ages(app: &TestApp) -> Vec<i32> {
    app.db
        .query(
            "SELECT extract(day FROM now() - occurred_at)::int FROM auth_events ORDER BY occurred_at",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn audit_events_are_kept_for_their_retention_and_no_less_than_thirty_days() {
    let app = TestApp::spawn().await;
    for days in [400, 366, 364, 40, 1] {
        event_aged(&app, days).await;
    }

    let report = auth::janitor::sweep(&app.app).await.unwrap();

    assert_eq!(report.audit_events, 2, "a year by default");
    assert_eq!(event_ages(&app).await, [364, 40, 1]);
    let monthly = app.redeployed(&[("AUDIT_RETENTION_DAYS", "30")]).await;
    assert_eq!(
        auth::janitor::sweep(&monthly.app)
            .await
            .unwrap()
            .audit_events,
        2
    );
    assert_eq!(event_ages(&app).await, [1]);
    // The database's own floor, whatever the caller asks for.
    event_aged(&app, 20).await;
    let pruned: i64 = app
        .db
        .query_one("SELECT prune_auth_events(0)", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pruned, 0);
    assert_eq!(event_ages(&app).await, [20, 1]);
}

#[tokio::test]
async fn outside_the_pruning_function_the_audit_trail_stays_append_only() {
    let app = TestApp::spawn().await;
    event_aged(&app, 400).await;

    let refused = app.db.execute("DELETE FROM auth_events", &[]).await;

    assert!(refused.is_err(), "a plain DELETE of even a year-old event");
    assert_eq!(event_ages(&app).await, [400]);
}

#[tokio::test]
async fn expired_second_steps_and_ended_code_streaks_go_and_live_ones_stay() {
    let app = TestApp::spawn().await;
    let jane: uuid::Uuid = app.registered_user("Jane", "jane@example.com").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let john: uuid::Uuid = app.registered_user("John", "john@example.com").await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.db
        .execute(
            "INSERT INTO mfa_challenges (token_hash, user_id, expires_at)
             VALUES (sha256('expired'), $1, now() - interval '1 second'),
                    (sha256('live'), $1, now() + interval '5 minutes')",
            &[&jane],
        )
        .await
        .unwrap();
    app.db
        .execute(
            "INSERT INTO mfa_failures (user_id, failures, window_ends, locked_until)
             VALUES ($1, 3, now() - interval '1 second', NULL),
                    ($2, 10, now() - interval '1 second', now() + interval '10 minutes')",
            &[&jane, &john],
        )
        .await
        .unwrap();

    auth::janitor::sweep(&app.app).await.unwrap();

    let challenges: Vec<Vec<u8>> = app
        .db
        .query("SELECT token_hash FROM mfa_challenges", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let live: Vec<u8> = app
        .db
        .query_one("SELECT sha256('live')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(challenges, [live], "only the live second step stays");
    let streaks: Vec<uuid::Uuid> = app
        .db
        .query("SELECT user_id FROM mfa_failures", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(streaks, [john], "a lock still running stays");
}

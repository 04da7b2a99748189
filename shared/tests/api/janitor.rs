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

"""Schemathesis hooks for local/schemathesis.sh (loaded through schemathesis.toml)."""

import os

import requests
import schemathesis


@schemathesis.hook
def filter_body(context, body):
    """Drops request bodies that are not UTF-8.

    `cargo lambda watch`, which serves the local stack, answers such a body with its own 500
    (text/plain) without invoking the function, unless the Content-Type is
    application/octet-stream. The functions' answer to a body that is not UTF-8 (400
    invalid_json, or 415) is covered without the emulator by shared/tests/api/hostile_input.rs.
    """
    if isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            return False
    return True


# Operations that check the account's password before they act. Schemathesis cannot know the
# password, so every one of its requests to them is a wrong password, and wrong passwords count
# toward the sign-in lockout of the account whose token is presented, exactly as failed sign-ins
# do. They get the token of an account of their own (signed in once by local/schemathesis.sh and
# never again), so the lockout they run into does not shut the other account out of sign-in.
PASSWORD_CHECKED = {
    ("POST", "/api/change-password"),
    ("POST", "/api/change-email"),
    ("DELETE", "/api/account"),
}


def _needs_access_token(ctx):
    security = ctx.operation.definition.raw.get("security") or []
    return any("accessToken" in requirement for requirement in security)


def _checks_password(ctx):
    return (ctx.operation.method.upper(), ctx.operation.path) in PASSWORD_CHECKED


def _set_bearer(case, token):
    case.headers = case.headers or {}
    case.headers["Authorization"] = f"Bearer {token}"


@schemathesis.auth(refresh_interval=None).apply_to(
    lambda ctx: _needs_access_token(ctx) and _checks_password(ctx)
)
class PasswordCheckedAccount:
    """The token of the account whose password schemathesis keeps getting wrong."""

    def get(self, case, ctx):
        return os.environ["SCHEMATHESIS_PASSWORD_CHECKED_TOKEN"]

    def set(self, case, data, ctx):
        _set_bearer(case, data)


@schemathesis.auth().apply_to(lambda ctx: _needs_access_token(ctx) and not _checks_password(ctx))
class SignedInAccount:
    """Signs in with the account local/schemathesis.sh signed up and confirmed; signs in again
    when an answer is 401 (the session was ended by a generated logout)."""

    def get(self, case, ctx):
        response = requests.post(
            f"{os.environ['E2E_BASE_URL']}/api/signin",
            json={
                "email": os.environ["SCHEMATHESIS_EMAIL"],
                "password": os.environ["SCHEMATHESIS_PASSWORD"],
            },
            timeout=60,
        )
        response.raise_for_status()
        return response.json()["access_token"]

    def set(self, case, data, ctx):
        _set_bearer(case, data)

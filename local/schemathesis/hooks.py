"""Schemathesis hooks for local/schemathesis.sh (loaded through schemathesis.toml)."""

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

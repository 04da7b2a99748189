#!/usr/bin/env python3
"""Verifies the API's access tokens with an independent JWT implementation (PyJWT).

Run by `make test` (testkit) against the running local stack at E2E_BASE_URL: fetches the
JWKS over HTTP with PyJWT's PyJWKClient, signs a new user up (confirming the address with the
emailed link, which the harness binary $TESTKIT reads from the outbox of E2E_DATABASE_URL) and in
over HTTP, and verifies the access
token with the key its `kid` names, allowing only the algorithm that key declares and checking
`iss`, `aud` and `typ`. Prints one line per check and closes with "N passed, M failed";
with `--junit FILE` it also writes each check as a test case of a JUnit report, which is what
`make test` counts. Needs PyJWT with its crypto extra: pip install 'PyJWT[crypto]'.
"""

import argparse
import base64
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import jwt
from jwt import PyJWKClient

BASE_URL = os.environ["E2E_BASE_URL"].rstrip("/")
JWKS_URL = f"{BASE_URL}/.well-known/jwks.json"
ISSUER = os.environ.get("JWT_ISSUER", "jwt-auth-api")
AUDIENCE = os.environ.get("JWT_AUDIENCE", "jwt-auth-api")
# Members of a private JWK (RFC 7518 §6): none may ever be served.
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}

# (name, passed, detail, seconds since the previous check) of every check, in order.
results = []
_last_check = time.monotonic()


def check(name, condition, detail=""):
    global _last_check
    now = time.monotonic()
    results.append((name, bool(condition), str(detail), now - _last_check))
    _last_check = now
    print(f"{'ok' if condition else 'not ok'} - {name}{'' if condition else f': {detail}'}")


def write_junit(path):
    """Each check as a <testcase>, a failed one holding a <failure> with its detail."""
    failures = sum(1 for _, passed, _, _ in results if not passed)
    suites = ET.Element("testsuites")
    suite = ET.SubElement(
        suites, "testsuite", name="verify-jwks", tests=str(len(results)), failures=str(failures)
    )
    for name, passed, detail, seconds in results:
        case = ET.SubElement(suite, "testcase", classname="verify-jwks", name=name, time=f"{seconds:.3f}")
        if not passed:
            ET.SubElement(case, "failure", message=detail).text = detail
    ET.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def request(method, path, body=None, token=None):
    """(status, headers, parsed JSON body) of one request to the stack."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        data = json.dumps(body).encode()
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(BASE_URL + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


def main():
    status, headers, jwks = request("GET", "/.well-known/jwks.json")
    check("GET /.well-known/jwks.json is 200", status == 200, status)
    check("the JWKS is JSON", headers.get("Content-Type") == "application/json", headers.get("Content-Type"))
    check(
        "the JWKS may be cached for ten minutes",
        headers.get("Cache-Control") == "public, max-age=600",
        headers.get("Cache-Control"),
    )
    keys = (jwks or {}).get("keys") or []
    check("the JWKS lists at least one key", len(keys) > 0, jwks)
    leaked = [sorted(PRIVATE_MEMBERS & key.keys()) for key in keys if PRIVATE_MEMBERS & key.keys()]
    check("the JWKS holds public members only", not leaked, leaked)

    email = f"jwks-{uuid.uuid4().hex}@example.com"
    password = "correct horse battery staple"
    status, _, body = request("POST", "/api/signup", {"name": "Jwks Check", "email": email, "password": password})
    check("sign-up over HTTP", status == 202, body)
    token = subprocess.run(
        [os.environ["TESTKIT"], "outbox-token", os.environ["E2E_DATABASE_URL"], email, f"{BASE_URL}/verify-email#"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    status, _, body = request("POST", "/api/verify-email", {"token": token})
    check("the address confirmed with the emailed link", status == 200, body)
    status, _, body = request("POST", "/api/signin", {"email": email, "password": password})
    check("sign-in over HTTP", status == 200, body)
    token = (body or {}).get("access_token", "")
    user_id = ((body or {}).get("user") or {}).get("id")

    header = jwt.get_unverified_header(token)
    check("the token is typed at+jwt", header.get("typ") == "at+jwt", header)
    check("the token names its key", bool(header.get("kid")), header)
    try:
        signing_key = PyJWKClient(JWKS_URL, cache_keys=False).get_signing_key_from_jwt(token)
    except jwt.PyJWKClientError as error:
        check("the token's kid is a key of the JWKS (PyJWKClient)", False, error)
        return
    check("the token's kid is a key of the JWKS (PyJWKClient)", True)
    algorithm = signing_key.algorithm_name
    check("the key is asymmetric (EdDSA or ES256)", algorithm in ("EdDSA", "ES256"), algorithm)
    check("the token's alg is its key's", header.get("alg") == algorithm, (header, algorithm))
    try:
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "client_id"]},
        )
        check("PyJWT verifies the signature, exp, nbf, iss and aud", True)
        check("the token is the signed-in user's", claims.get("sub") == user_id, (claims, user_id))
        # RFC 9068 §2.2: an at+jwt access token carries iss, exp, aud, sub, client_id, iat, jti.
        check(
            "the token has RFC 9068's required claims, client_id included",
            all(claims.get(name) for name in ("iss", "exp", "aud", "sub", "client_id", "iat", "jti")),
            claims,
        )
    except jwt.InvalidTokenError as error:
        check("PyJWT verifies the signature, exp, nbf, iss and aud", False, repr(error))

    # The same check must refuse a token whose claims were changed after signing.
    head, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = str(uuid.uuid4())
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    try:
        jwt.decode(
            f"{head}.{forged_payload}.{signature}",
            signing_key.key,
            algorithms=[algorithm],
            audience=AUDIENCE,
            issuer=ISSUER,
        )
        check("PyJWT refuses a token changed after signing", False, "it verified")
    except jwt.InvalidSignatureError:
        check("PyJWT refuses a token changed after signing", True)

    status, _, body = request("GET", "/api/dashboard", token=token)
    check("the API accepts the same token", status == 200, body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Checks the API's access tokens with PyJWT.")
    parser.add_argument("--junit", metavar="FILE", help="also write the checks as a JUnit report")
    args = parser.parse_args()
    try:
        main()
    except Exception as error:  # an unexpected failure is a failed check, not a silent pass
        check("the verification ran to the end", False, repr(error))
    passed = sum(1 for _, ok, _, _ in results if ok)
    failed = len(results) - passed
    print(f"jwks: {passed} passed, {failed} failed")
    if args.junit:
        write_junit(args.junit)
    sys.exit(1 if failed or not results else 0)

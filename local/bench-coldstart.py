#!/usr/bin/env python3
"""Cold start and sign-in memory of the release binaries, through a real Lambda Runtime API.

Run by local/bench-binaries.sh inside `testkit stack --runtime-api-only`, which serves
`cargo lambda watch --only-lambda-apis` on loopback on a migrated scratch database; they come in
the environment:

    BENCH_RUNTIME_PORT  port of the watch server (Runtime API under /.rt, invoke API beside it)
    BENCH_BIN_DIR       directory holding the release binaries, one per function
    BENCH_RUNS          cold starts per function (median reported)
    BENCH_OUT           where to write the JSON this script measures
    DATABASE_URL, JWT_PRIVATE_KEY, ...  the functions' own configuration, passed through

A cold start is timed from just before the process is spawned to the moment the first
invocation's response reaches the invoker: process start, configuration, the lazy database
connection and the first request's own work. The invocation is sent right after the spawn and
waits in the runtime server until the function asks for it, as in Lambda. Each function's first
request is one that reaches the database when the function uses one (see `PLAN` below); its
second, identical request on the now-warm process is timed too, so the warm cost can be
subtracted. Only 127.0.0.1 is contacted.
"""

import base64
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

PORT = int(os.environ["BENCH_RUNTIME_PORT"])
BIN_DIR = os.environ["BENCH_BIN_DIR"]
RUNS = int(os.environ.get("BENCH_RUNS", "7"))
OUT = os.environ["BENCH_OUT"]
PASSWORD = "Bench-Horse-Battery-42!"
SIGNUP_USER_AGENT = "bench-coldstart"

# Runtime API path per function: the watch server routes /.rt/<function>/2018-06-01/... to the
# invocations addressed to <function>.
RUNTIME_API = f"http://127.0.0.1:{PORT}/.rt"


def event(method, path, *, body=None, bearer=None, path_parameters=None):
    """An API Gateway HTTP API (payload 2.0) event, as API Gateway would send it."""
    headers = {"user-agent": SIGNUP_USER_AGENT, "host": "127.0.0.1"}
    if body is not None:
        headers["content-type"] = "application/json"
    if bearer is not None:
        headers["authorization"] = f"Bearer {bearer}"
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "pathParameters": path_parameters or {},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "domainName": "127.0.0.1",
            "domainPrefix": "bench",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": SIGNUP_USER_AGENT,
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def invoke(function, payload):
    """Sends one invocation through the watch server's invoke API; returns the response JSON."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(payload).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def http_body(response):
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return json.loads(body) if body.startswith(("{", "[")) else body


def spawn(function):
    env = dict(os.environ)
    env.update(
        AWS_LAMBDA_RUNTIME_API=f"{RUNTIME_API}/{function}",
        AWS_LAMBDA_FUNCTION_NAME=function,
        AWS_LAMBDA_FUNCTION_VERSION="1",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="128",
        AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{function}",
        AWS_LAMBDA_LOG_STREAM_NAME="bench",
    )
    return subprocess.Popen(
        [os.path.join(BIN_DIR, function)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def stop(process):
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def peak_rss_kib(pid):
    """VmHWM: the process's peak resident set size so far, in KiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("no VmHWM in /proc status")


def expect(function, response, statuses):
    status = response.get("statusCode")
    if status not in statuses:
        raise RuntimeError(f"{function}: status {status}, expected {statuses}: {response.get('body')}")


class Tokens:
    """Sessions made by sign-ins: each gives an access token, a refresh token and a session id."""

    def __init__(self):
        self.pairs = []

    def add(self, response):
        body = http_body(response)
        access = body["access_token"]
        claims = access.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
        self.pairs.append({"access": access, "refresh": body["refresh_token"], "sid": claims["sid"]})

    def take(self):
        if not self.pairs:
            raise RuntimeError("ran out of signed-in sessions")
        return self.pairs.pop()


def measure(function, make_event, statuses, *, after=None, warm=True):
    """RUNS cold starts of `function`; `make_event(run)` gives the first request of each."""
    cold, warm_times = [], []
    for run in range(RUNS):
        payload = make_event(run)
        started = time.perf_counter()
        process = spawn(function)
        try:
            response = invoke(function, payload)
            cold.append((time.perf_counter() - started) * 1000)
            expect(function, response, statuses)
            if warm:
                payload = make_event(run) if function in FRESH_EVERY_CALL else payload
                started = time.perf_counter()
                response = invoke(function, payload)
                warm_times.append((time.perf_counter() - started) * 1000)
            if after:
                after(process, response)
        except Exception:
            stop(process)
            sys.stderr.write(process.stderr.read().decode(errors="replace")[-4000:])
            raise
        stop(process)
    return cold, warm_times


# Functions whose request cannot be repeated as is (each consumes what it presents).
FRESH_EVERY_CALL = {"signup", "refresh", "logout", "end-session"}


def main():
    results = {}
    tokens = Tokens()
    email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
    rss = []

    # Sign-up: the account every later request uses, plus one more per call.
    counter = iter(range(10_000))

    def signup_event(_run):
        n = next(counter)
        address = email if n == 0 else f"bench-{n}-{uuid.uuid4().hex[:8]}@example.com"
        return event("POST", "/api/signup", body={"name": "Bench User", "email": address, "password": PASSWORD})

    results["signup"] = measure("signup", signup_event, {201})

    # Sign-in with the right password: the cold call, one warm call, then five more to stock
    # sessions for the functions below; the process's peak RSS is read after all of them.
    signin = event("POST", "/api/signin", body={"email": email, "password": PASSWORD})
    # Enough sessions for refresh, end-session and logout (two each per run) and the reader.
    per_run = 7

    def after_signin(process, response):
        tokens.add(response)
        for _ in range(per_run - 1):
            more = invoke("signin", signin)
            expect("signin", more, {200})
            tokens.add(more)
        rss.append(peak_rss_kib(process.pid))

    results["signin"] = measure("signin", lambda _run: signin, {200}, after=after_signin)
    reader = tokens.take()

    results["dashboard"] = measure(
        "dashboard", lambda _run: event("GET", "/api/dashboard", bearer=reader["access"]), {200}
    )
    results["sessions"] = measure(
        "sessions", lambda _run: event("GET", "/api/sessions", bearer=reader["access"]), {200}
    )
    results["refresh"] = measure(
        "refresh", lambda _run: event("POST", "/api/refresh", bearer=tokens.take()["refresh"]), {200}
    )

    def end_session_event(_run):
        victim = tokens.take()
        return event(
            "DELETE",
            f"/api/sessions/{victim['sid']}",
            bearer=reader["access"],
            path_parameters={"id": victim["sid"]},
        )

    results["end-session"] = measure("end-session", end_session_event, {200})
    results["logout"] = measure(
        "logout", lambda _run: event("POST", "/api/logout", bearer=tokens.take()["access"]), {200}
    )
    results["forgot-password"] = measure(
        "forgot-password", lambda _run: event("POST", "/api/forgot-password", body={"email": email}), {200}
    )
    # An unknown reset token: one lookup, answered 400 before any hashing.
    bogus = "x" * 43
    results["reset-password"] = measure(
        "reset-password",
        lambda _run: event(
            "POST",
            f"/api/reset-password/{bogus}",
            body={"password": PASSWORD},
            path_parameters={"token": bogus},
        ),
        {400, 401, 404},
    )
    results["jwks"] = measure("jwks", lambda _run: event("GET", "/.well-known/jwks.json"), {200})
    results["root"] = measure("root", lambda _run: event("GET", "/"), {200})
    results["public"] = measure("public", lambda _run: event("GET", "/api/public"), {200})
    results["reset-page"] = measure(
        "reset-page",
        lambda _run: event("GET", f"/reset-password/{bogus}", path_parameters={"token": bogus}),
        {200},
    )
    results["not-found"] = measure("not-found", lambda _run: event("GET", "/nowhere"), {404})
    # The janitor is invoked by a schedule, with an EventBridge event; its sweep is its request.
    results["janitor"] = measure(
        "janitor",
        lambda _run: {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}},
        {None},
    )

    out = {
        name: {
            "cold_start_ms_median": round(statistics.median(cold), 2),
            "cold_start_runs": [round(t, 2) for t in cold],
            "warm_ms_median": round(statistics.median(warm), 2) if warm else None,
        }
        for name, (cold, warm) in results.items()
    }
    with open(OUT, "w") as f:
        json.dump({"functions": out, "signin_peak_rss_kib": max(rss), "signin_peak_rss_runs_kib": rss}, f, indent=2)


if __name__ == "__main__":
    main()

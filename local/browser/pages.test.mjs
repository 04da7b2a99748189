// The emailed links as a person uses them, in a real browser: the confirmation link of a new
// account (the page confirms the address by itself), and the password reset (the form filled in
// and submitted, then sign-in over HTTP with the new password).
//
// Run by `make test` (local/test.sh) against the stack it serves, with:
//   E2E_BASE_URL       the API, e.g. http://127.0.0.1:34567
//   E2E_DATABASE_URL   its database, where the emailed link waits (no endpoint hands out tokens)
//   TESTKIT            the harness binary, which reads the link out of the outbox
// Needs Debian's chromium at /usr/bin/chromium (apt-get install chromium).
// By hand, with those three set: npm ci --prefix local && npm run --prefix local browser-test
import { after, before, beforeEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const BASE_URL = (process.env.E2E_BASE_URL ?? "").replace(/\/+$/, "");
const DATABASE_URL = process.env.E2E_DATABASE_URL ?? "";
const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const TESTKIT = process.env.TESTKIT ?? "";
/** The bound of every single wait: HTTP call, database read, navigation, element. */
const WAIT_MS = 30_000;
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const ARTIFACTS = join(REPO_ROOT, "target", "artifacts");
const SCREENSHOT = join(ARTIFACTS, "reset-password.png");
/** Written only when an expected outcome does not show, to see what the page showed instead. */
const FAILURE_SCREENSHOT = join(ARTIFACTS, "reset-password-failure.png");

const OLD_PASSWORD = "browser test old passphrase";
const NEW_PASSWORD = "browser test new passphrase";

function uniqueEmail(tag) {
  return `browser-${tag}-${Date.now()}-${Math.floor(Math.random() * 1e9)}@example.com`;
}

/** One JSON call to the API; the answer's status and parsed body. */
async function api(method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(BASE_URL + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(WAIT_MS),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, body: json, text };
}

/**
 * The link starting with `prefix` in the newest email to the address, polled for at most WAIT_MS:
 * the outbox is read by the harness (`testkit outbox-token`), the one reader of emailed links.
 */
async function linkFor(email, prefix) {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      const token = execFileSync(TESTKIT, ["outbox-token", DATABASE_URL, email, prefix], {
        encoding: "utf8",
        timeout: WAIT_MS,
        stdio: ["ignore", "pipe", "pipe"],
      }).trim();
      if (/^[A-Za-z0-9_-]+$/.test(token)) return prefix + token;
    } catch (error) {
      if (Date.now() > deadline) {
        throw new Error(`no reset link for ${email} within ${WAIT_MS} ms: ${error.stderr ?? error}`);
      }
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function signup(email, password) {
  const answer = await api("POST", "/api/signup", {
    body: { name: "Browser Tester", email, password },
  });
  assert.equal(answer.status, 202, `sign-up: ${answer.text}`);
}

/** Opens the confirmation link of the newest email to the address; returns the page's outcome. */
async function confirmInBrowser(context, email) {
  const link = await linkFor(email, `${BASE_URL}/verify-email#`);
  const page = await context.newPage();
  const response = await page.goto(link, { waitUntil: "load" });
  assert.equal(response?.status(), 200);
  assert.equal(await page.title(), "Confirm your email address");
  const outcome = page.locator("#outcome.success, #outcome.failure");
  await outcome.waitFor({ state: "visible", timeout: WAIT_MS });
  const result = {
    kind: await outcome.getAttribute("class"),
    text: (await outcome.textContent()) ?? "",
    url: page.url(),
  };
  await page.close();
  return result;
}

/** RFC 6238 (SHA-1, 6 digits, 30 s): the code an authenticator app shows for the base32 `secret`, `steps` steps from now. */
function totp(secret, steps = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30) + steps));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

async function signin(email, password) {
  return api("POST", "/api/signin", { body: { email, password } });
}

/**
 * Fills the page's form, submits it, and waits (bounded) for the outcome line to show `kind`
 * ("success" or "failure") with a text matching `expected`; returns that text.
 */
async function submitPassword(page, password, confirm, kind, expected) {
  await page.locator("#password").fill(password);
  await page.locator("#confirm").fill(confirm);
  await page.locator("#submit").click();
  const outcome = page.locator(`#outcome.${kind}`).filter({ hasText: expected });
  try {
    await outcome.waitFor({ state: "visible", timeout: WAIT_MS });
  } catch (error) {
    const shown = await page
      .locator("#outcome")
      .evaluate((e) => `[${e.className}] ${e.textContent}`, undefined, { timeout: WAIT_MS })
      .catch((e) => `(unreadable: ${e.message})`);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: FAILURE_SCREENSHOT, fullPage: true, timeout: WAIT_MS }).catch(() => {});
    throw new Error(`expected a ${kind} outcome matching ${expected}, the page shows: ${shown}`, {
      cause: error,
    });
  }
  return (await outcome.textContent()) ?? "";
}

describe("the emailed links in a browser", () => {
  let context;
  let profile;
  /** Console errors and uncaught exceptions of the test's pages (a CSP violation shows up here). */
  let pageProblems = [];

  before(async () => {
    assert.ok(BASE_URL, "E2E_BASE_URL must be set (make test sets it)");
    assert.ok(DATABASE_URL, "E2E_DATABASE_URL must be set (make test sets it)");
    assert.ok(TESTKIT, "TESTKIT must name the harness binary (make test sets it)");
    assert.ok(
      existsSync(CHROMIUM),
      `${CHROMIUM} not found: install Chromium with: apt-get install chromium`,
    );
    profile = mkdtempSync(join(tmpdir(), "jwt-auth-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: WAIT_MS,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        // The passkey test opens the pages at http://localhost:PORT (WebAuthn's relying party
        // cannot be an IP address): keep that on 127.0.0.1, never ::1 or a resolver.
        "--host-resolver-rules=MAP localhost 127.0.0.1",
      ],
      viewport: { width: 800, height: 640 },
    });
    context.setDefaultTimeout(WAIT_MS);
    context.setDefaultNavigationTimeout(WAIT_MS);
    context.on("page", (page) => {
      page.on("console", (message) => {
        // The API's expected 4xx answers to the form are logged by Chromium as failed loads.
        const expected = /^Failed to load resource: the server responded with a status of 4\d\d\b/;
        if (message.type() === "error" && !expected.test(message.text())) {
          pageProblems.push(`console: ${message.text()}`);
        }
      });
      page.on("pageerror", (error) => pageProblems.push(`exception: ${error.message}`));
    });
  });

  beforeEach(() => {
    pageProblems = [];
  });

  after(async () => {
    await context?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  test("the emailed confirmation link confirms the address, once", { timeout: 180_000 }, async () => {
    const email = uniqueEmail("confirm");
    await signup(email, OLD_PASSWORD);
    const refused = await signin(email, OLD_PASSWORD);
    assert.equal(refused.status, 403, `sign-in before confirming: ${refused.text}`);
    assert.equal(refused.body?.error, "email_not_verified");

    const confirmed = await confirmInBrowser(context, email);
    assert.equal(confirmed.kind, "success", confirmed.text);
    assert.match(confirmed.text, /confirmed/i);
    assert.equal(confirmed.url.includes("#"), false, "the token leaves the address bar");

    const signedIn = await signin(email, OLD_PASSWORD);
    assert.equal(signedIn.status, 200, `sign-in after confirming: ${signedIn.text}`);
    assert.equal(signedIn.body?.user?.email_verified, true);

    const again = await confirmInBrowser(context, email);
    assert.equal(again.kind, "failure", "the link works once");
    assert.match(again.text, /invalid|expired|already used/i);

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("the emailed link resets the password once, and ends the old sessions", { timeout: 180_000 }, async () => {
    const email = uniqueEmail("reset");
    await signup(email, OLD_PASSWORD);
    assert.equal((await confirmInBrowser(context, email)).kind, "success");
    const before = await signin(email, OLD_PASSWORD);
    assert.equal(before.status, 200, `sign-in before the reset: ${before.text}`);

    const forgot = await api("POST", "/api/forgot-password", { body: { email } });
    assert.equal(forgot.status, 200, forgot.text);
    assert.equal(forgot.text.includes("reset-password"), false, "the answer carries no link");
    const link = await linkFor(email, `${BASE_URL}/reset-password#`);
    assert.ok(link.startsWith(`${BASE_URL}/reset-password#`), link);

    const page = await context.newPage();
    const response = await page.goto(link, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    assert.match(response.headers()["content-type"] ?? "", /^text\/html/);
    assert.equal(await page.title(), "Choose a new password");
    // The token left the address bar (and so the history) once the page had read it.
    assert.equal(page.url(), `${BASE_URL}/reset-password`, "the fragment is cleared");

    const text = await submitPassword(page, NEW_PASSWORD, NEW_PASSWORD, "success", /password has been changed/i);
    assert.match(text, /sign in with your new password/i);
    assert.equal(await page.locator("#reset-form").isHidden(), true, "the form is gone");

    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true, timeout: WAIT_MS });
    assert.ok(existsSync(SCREENSHOT), SCREENSHOT);

    const withNew = await signin(email, NEW_PASSWORD);
    assert.equal(withNew.status, 200, `sign-in with the new password: ${withNew.text}`);
    const withOld = await signin(email, OLD_PASSWORD);
    assert.equal(withOld.status, 401, `sign-in with the old password: ${withOld.text}`);
    assert.equal(withOld.body?.error, "invalid_credentials");

    const dashboard = await api("GET", "/api/dashboard", { token: before.body.access_token });
    assert.equal(dashboard.status, 401, "the reset ends the sessions opened before it");
    assert.equal(dashboard.body?.error, "invalid_token");

    // The same link a second time: already used.
    await page.goto(link, { waitUntil: "load" });
    await submitPassword(page, "yet another passphrase", "yet another passphrase", "failure", /invalid|expired|already used/i);
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("a bogus link is refused on the page", { timeout: 120_000 }, async () => {
    const page = await context.newPage();
    const response = await page.goto(`${BASE_URL}/reset-password#not-a-real-token`, {
      waitUntil: "load",
    });
    assert.equal(response?.status(), 200);

    // Mismatched passwords are caught on the page, before any request.
    await submitPassword(page, "a valid passphrase", "another passphrase", "failure", /differ/i);

    const text = await submitPassword(page, "a valid passphrase", "a valid passphrase", "failure", /invalid|expired/i);
    assert.match(text, /link/i);
    assert.equal(await page.locator("#reset-form").isVisible(), true, "the form stays");
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("a damaged link says so instead of showing a form that cannot work", { timeout: 120_000 }, async () => {
    const page = await context.newPage();
    // "%E0%A4" is a truncated UTF-8 sequence: decodeURIComponent throws on it.
    const response = await page.goto(`${BASE_URL}/reset-password#%E0%A4`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);

    const outcome = page.locator("#outcome.failure").filter({ hasText: /damaged|incomplete/i });
    await outcome.waitFor({ state: "visible", timeout: WAIT_MS });
    assert.equal(await page.locator("#reset-form").isVisible(), false, "no form to type a password into");
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("TOTP turned on from the account page, then a sign-in in two steps on the sign-in page", { timeout: 180_000 }, async () => {
    const email = uniqueEmail("totp");
    await signup(email, OLD_PASSWORD);
    assert.equal((await confirmInBrowser(context, email)).kind, "success");
    const page = await context.newPage();
    const signinPage = async () => {
      const response = await page.goto(`${BASE_URL}/signin`, { waitUntil: "load" });
      assert.equal(response?.status(), 200);
      assert.equal(await page.title(), "Sign in");
      await page.locator("#email").fill(email);
      await page.locator("#password").fill(OLD_PASSWORD);
      await page.locator("#submit").click();
    };

    // One factor: straight to the account page.
    await signinPage();
    await page.waitForURL(`${BASE_URL}/account`);
    await page.locator("#totp-state").filter({ hasText: /Off/ }).waitFor();
    assert.match(await page.locator("#who").textContent(), new RegExp(email.replace(/[.+]/g, "\\$&")));

    await page.locator("#totp-enroll").click();
    await page.locator("#qr svg").waitFor();
    const secret = (await page.locator("#secret").textContent()).trim();
    assert.match(secret, /^[A-Z2-7]{32}$/, "160 bits in base32");
    await page.locator("#confirm-code").fill(totp(secret));
    await page.locator("#totp-confirm").click();
    await page.locator("#recovery-codes li").first().waitFor();
    const codes = await page.locator("#recovery-codes li").allTextContents();
    assert.equal(codes.length, 10);
    await page.locator("#totp-state").filter({ hasText: /On\. 10 unused/ }).waitFor();
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tokens")));
    const claims = JSON.parse(Buffer.from(stored.access_token.split(".")[1], "base64url").toString());
    assert.equal(claims.aal, "aal2", "the confirming session now has two factors");
    assert.equal(
      await page.evaluate(() => document.cookie),
      "",
      "no token in a cookie",
    );

    // Sign out; the password alone is no longer enough.
    await page.locator("#signout").click();
    await page.waitForURL(`${BASE_URL}/signin`);
    await signinPage();
    await page.locator("#code-form").waitFor({ state: "visible" });
    await page.locator("#code").fill("000000" === totp(secret, 1) ? "111111" : "000000");
    await page.locator("#verify").click();
    await page.locator("#outcome.failure").filter({ hasText: /not right/ }).waitFor();
    // A recovery code, typed in lower case without hyphens.
    await page.locator("#use-recovery").click();
    await page.locator("#recovery-code").fill(codes[0].replaceAll("-", "").toLowerCase());
    await page.locator("#verify-recovery").click();
    await page.waitForURL(`${BASE_URL}/account`);
    await page.locator("#totp-state").filter({ hasText: /On\. 9 unused/ }).waitFor();

    // Off again, with a code the account has not used yet.
    await page.locator("#disable-code").fill(totp(secret, 1));
    await page.locator("#totp-disable").click();
    await page.locator("#totp-state").filter({ hasText: /Off/ }).waitFor();
    const plain = await signin(email, OLD_PASSWORD);
    assert.equal(plain.status, 200, plain.text);
    assert.equal(plain.body?.user?.mfa_enabled, false);
    assert.ok(plain.body?.access_token, "one factor again");
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("a passkey added on the account page signs in on the sign-in page (CDP virtual authenticator)", { timeout: 180_000 }, async () => {
    // The same stack, reached as localhost: the relying party the stack is configured with.
    const local = BASE_URL.replace("//127.0.0.1:", "//localhost:");
    assert.ok(local.startsWith("http://localhost:"), local);
    const email = uniqueEmail("passkey");
    await signup(email, OLD_PASSWORD);
    assert.equal((await confirmInBrowser(context, email)).kind, "success");

    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("WebAuthn.enable");
    const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
      options: {
        protocol: "ctap2",
        transport: "internal",
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });

    await page.goto(`${local}/signin`, { waitUntil: "load" });
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(OLD_PASSWORD);
    await page.locator("#submit").click();
    await page.waitForURL(`${local}/account`);
    await page.locator("#passkeys").waitFor({ state: "visible" });
    await page.locator("#passkey-name").fill("Test laptop");
    await page.locator("#passkey-add").click();
    await page.locator("#outcome.success").filter({ hasText: /Passkey added/ }).waitFor();
    await page.locator("#passkey-list li").filter({ hasText: "Test laptop" }).waitFor();
    const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.equal(credentials.length, 1);
    assert.equal(credentials[0].isResidentCredential, true, "a discoverable credential");

    // Signed out, no address typed: the authenticator says who.
    await page.locator("#signout").click();
    await page.waitForURL(`${local}/signin`);
    await page.locator("#passkey").click();
    await page.waitForURL(`${local}/account`);
    await page.locator("#who").filter({ hasText: email }).waitFor();
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tokens")));
    const claims = JSON.parse(Buffer.from(stored.access_token.split(".")[1], "base64url").toString());
    assert.equal(claims.aal, "aal2", "a passkey is two factors");
    assert.deepEqual(claims.amr, ["webauthn"]);
    const { credentials: used } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
    assert.ok(used[0].signCount >= 1, "the authenticator signed");

    // Removed on the page: that passkey signs in no more.
    await page.locator("#passkey-list li button").click();
    await page.locator("#outcome.success").filter({ hasText: /Passkey removed/ }).waitFor();
    const listed = await api("GET", "/api/passkeys", { token: stored.access_token });
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.body.passkeys, []);
    await page.locator("#signout").click();
    await page.waitForURL(`${local}/signin`);
    await page.locator("#passkey").click();
    await page.locator("#outcome.failure").waitFor();
    assert.equal(page.url(), `${local}/signin`, "still signed out");
    await cdp.send("WebAuthn.removeVirtualAuthenticator", { authenticatorId });
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  /**
   * "Continue with Local" on the sign-in page at `local`, then the test provider's login form as
   * `who` says (a fresh provider session: its cookies are cleared first).
   */
  async function continueWithProvider(page, local, who, provider = "local", label = "Local") {
    await context.clearCookies();
    const response = await page.goto(`${local}/signin`, { waitUntil: "load" });
    assert.equal(response?.status(), 200);
    const button = page.locator(`button[data-provider="${provider}"]`);
    assert.equal((await button.textContent()).trim(), `Continue with ${label}`);
    await button.click();
    await page.waitForURL(/^http:\/\/127\.0\.0\.1:\d+\/interaction\//);
    await page.locator('input[name="login"]').fill(who.sub);
    await page.locator('input[name="email"]').fill(who.email);
    await page.locator('input[name="name"]').fill(who.name ?? "Provider Person");
    await page.locator('input[name="email_verified"]').setChecked(who.emailVerified ?? true);
    await page.locator("#sign-in").click();
  }

  /** The tokens the page keeps in its tab, and the access token's claims. */
  async function storedClaims(page) {
    const stored = await page.evaluate(() => JSON.parse(sessionStorage.getItem("tokens")));
    return JSON.parse(Buffer.from(stored.access_token.split(".")[1], "base64url").toString());
  }

  test("Continue with a provider: a new account signed in through the test provider; an unverified address refused", { timeout: 180_000 }, async () => {
    const local = BASE_URL.replace("//127.0.0.1:", "//localhost:");
    const email = uniqueEmail("oidc");
    const sub = `browser-${Date.now()}-${Math.floor(Math.random() * 1e9)}`;
    const page = await context.newPage();

    await continueWithProvider(page, local, { sub, email, name: "Provider Person" });
    await page.waitForURL(`${local}/account`);
    await page.locator("#who").filter({ hasText: email }).waitFor();
    const claims = await storedClaims(page);
    assert.deepEqual(claims.amr, ["oidc"]);
    assert.equal(claims.idp, "local");
    // The one-time code went back through the page's URL: used once, and gone from the history.
    const identities = await page.evaluate(async () => {
      const { access_token } = JSON.parse(sessionStorage.getItem("tokens"));
      const r = await fetch("/api/identities", { headers: { Authorization: `Bearer ${access_token}` } });
      return r.json();
    });
    assert.equal(identities.identities.length, 1);
    assert.equal(identities.identities[0].provider, "local");
    assert.equal(identities.identities[0].email, email);
    // The account has no password: signing in with one fails like an unknown address.
    const withPassword = await signin(email, OLD_PASSWORD);
    assert.equal(withPassword.status, 401, withPassword.text);

    // Another person whose address the provider has not verified: never an account.
    await page.locator("#signout").click();
    await page.waitForURL(`${local}/signin`);
    const unverified = uniqueEmail("oidc-unverified");
    await continueWithProvider(page, local, {
      sub: `${sub}-unverified`,
      email: unverified,
      emailVerified: false,
    });
    await page.locator("#outcome.failure").filter({ hasText: /not confirmed that email address/ }).waitFor();
    assert.equal(page.url(), `${local}/signin`, "back on the page, the error out of the URL");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("tokens")), null);
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("the sign-up page makes an account; the provider with the same confirmed address links to it", { timeout: 180_000 }, async () => {
    const local = BASE_URL.replace("//127.0.0.1:", "//localhost:");
    const email = uniqueEmail("signup-page");
    const page = await context.newPage();
    await page.goto(`${local}/signin`, { waitUntil: "load" });
    await page.locator("#to-signup").click();
    await page.waitForURL(`${local}/signup`);
    assert.equal(await page.title(), "Create an account");
    await page.locator("#name").fill("Page Person");
    await page.locator("#email").fill(email);
    await page.locator("#password").fill(OLD_PASSWORD);
    await page.locator("#submit").click();
    await page.locator("#outcome.success").filter({ hasText: /Check your email/ }).waitFor();
    assert.equal((await confirmInBrowser(context, email)).kind, "success");

    await continueWithProvider(page, local, { sub: `linked-${Date.now()}`, email });
    await page.waitForURL(`${local}/account`);
    await page.locator("#who").filter({ hasText: email }).waitFor();
    const claims = await storedClaims(page);
    assert.deepEqual(claims.amr, ["oidc"]);
    // The same account: its password still works.
    const withPassword = await signin(email, OLD_PASSWORD);
    assert.equal(withPassword.status, 200, withPassword.text);
    assert.equal(withPassword.body.user.id, claims.sub);
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });

  test("a provider that answers with a form the browser posts (form_post, as Apple) signs in too", { timeout: 180_000 }, async () => {
    const local = BASE_URL.replace("//127.0.0.1:", "//localhost:");
    const email = uniqueEmail("oidc-form");
    const page = await context.newPage();
    const posts = [];
    page.on("request", (request) => {
      if (request.url().endsWith("/api/oauth/local_form/callback")) posts.push(request.method());
    });

    await continueWithProvider(
      page,
      local,
      { sub: `form-${Date.now()}-${Math.floor(Math.random() * 1e9)}`, email, name: "Form Person" },
      "local_form",
      "Local form",
    );
    await page.waitForURL(`${local}/account`);
    await page.locator("#who").filter({ hasText: email }).waitFor();
    assert.deepEqual(posts, ["POST"], "the provider's page posted the callback");
    const claims = await storedClaims(page);
    assert.equal(claims.idp, "local_form");
    assert.deepEqual(claims.amr, ["oidc"]);
    await page.close();

    assert.deepEqual(pageProblems, [], "no console errors or exceptions on the page");
  });
});

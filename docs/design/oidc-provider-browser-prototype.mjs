// Headless Chromium through the provider's login page: authorize -> form -> click -> callback.
// node oidc-provider-browser-prototype.mjs http://127.0.0.1:4411   (provider started with
// REDIRECT_URIS=http://127.0.0.1:9000/cb; playwright-core 1.65 + Debian's /usr/bin/chromium).
import { chromium } from 'playwright-core';
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
const ISSUER = process.argv[2] ?? 'http://127.0.0.1:4411';
const REDIRECT = 'http://127.0.0.1:9000/cb';
const b64u = (b) => Buffer.from(b).toString('base64url');
const verifier = b64u(randomBytes(32)), state = b64u(randomBytes(16)), nonce = b64u(randomBytes(16));
const auth = new URL(`${ISSUER}/auth`);
Object.entries({ response_type: 'code', client_id: 'test-client', redirect_uri: REDIRECT, scope: 'openid email profile',
  state, nonce, code_challenge: b64u(createHash('sha256').update(verifier).digest()), code_challenge_method: 'S256' })
  .forEach(([k, v]) => auth.searchParams.set(k, v));
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true });
const page = await browser.newPage();
let callback;
// The relying party's callback: a plain listener (page.route does not see a request reached by a redirect).
const rp = createServer((req, res) => { callback = new URL(req.url, REDIRECT); res.end('signed in'); }).listen(9000, '127.0.0.1');
await page.goto(auth.href);
console.log('login page title:', await page.title());
await page.fill('input[name=login]', 'bob');
await page.uncheck('input[name=email_verified]');
await page.fill('input[name=amr]', 'pwd,hwk');
await Promise.all([page.waitForURL(`${REDIRECT}**`), page.click('#sign-in')]);
await browser.close(); rp.close();
console.log('final page URL path:', callback.pathname);
console.log('callback state ok:', callback.searchParams.get('state') === state, 'iss:', callback.searchParams.get('iss'));
const res = await fetch(`${ISSUER}/token`, { method: 'POST',
  headers: { authorization: `Basic ${Buffer.from('test-client:test-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code'), redirect_uri: REDIRECT, code_verifier: verifier }) });
const tokens = await res.json();
const claims = JSON.parse(Buffer.from(tokens.id_token.split('.')[1], 'base64url'));
console.log('token status', res.status, 'claims:', JSON.stringify(claims));
console.log('nonce ok:', claims.nonce === nonce);

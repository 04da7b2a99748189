// A throw-away OpenID Connect provider for tests: panva's oidc-provider v9 on loopback HTTP.
//
//   node local/oidc-provider.mjs            # env: PORT (default 0 = any free port), CLIENT_ID, CLIENT_SECRET,
//                                #      REDIRECT_URIS (comma separated), CLIENT_AUTH (how the token
//                                #      endpoint takes the secret: client_secret_basic, the default,
//                                #      or client_secret_post alone, as Apple)
// Prints one line `ISSUER=http://127.0.0.1:<port>` on stdout once it answers requests, and
// the time each step of its start took on stderr (a start that stalls shows where).
//
// Login page (GET /interaction/<uid>): a form with `login` (the account id, also the `sub`),
// `email`, `email_verified` (checkbox), `name` and `amr` (comma separated, e.g. `pwd,otp`).
// Whatever is posted becomes the account: there is no password. Consent is skipped for every
// client (loadExistingGrant grants the requested scopes), so one POST ends the interaction.
import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import Provider from "oidc-provider"; // local/package.json (npm ci --prefix local)

// Milliseconds since the process started (module loading included).
const step = (what) => console.error(`oidc-provider: ${what} at ${Math.round(performance.now())} ms`);
step('modules loaded');

const CLIENT_ID = process.env.CLIENT_ID ?? 'test-client';
const CLIENT_SECRET = process.env.CLIENT_SECRET ?? 'test-secret';
const REDIRECT_URIS = (process.env.REDIRECT_URIS ?? 'http://127.0.0.1:9000/api/oauth/test/callback').split(',');
const CLIENT_AUTH = process.env.CLIENT_AUTH ?? 'client_secret_basic';

// Accounts are made at login from the form, keyed by their id (= sub).
const accounts = new Map();

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const loginPage = (uid, client) => `<!doctype html><html><head><title>Test provider sign-in</title></head><body>
<h1>Sign in to ${escape(client)}</h1>
<form method="post" action="/interaction/${escape(uid)}">
  <label>Account <input name="login" value="alice"></label>
  <label>Email <input name="email" value=""></label>
  <label><input type="checkbox" name="email_verified" value="true" checked> Email verified</label>
  <label>Name <input name="name" value="Alice Example"></label>
  <label>amr <input name="amr" value="pwd"></label>
  <button type="submit" id="sign-in">Sign in</button>
</form></body></html>`;

const readForm = (req) => new Promise((resolve, reject) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => resolve(new URLSearchParams(body)));
  req.on('error', reject);
});

const server = createServer();
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  step(`listening at ${issuer}`);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  step('signing key generated');
  const provider = new Provider(issuer, {
    clients: [{
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      redirect_uris: REDIRECT_URIS,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: CLIENT_AUTH,
    }],
    // The one method discovery lists, as a provider that takes no other.
    clientAuthMethods: [CLIENT_AUTH],
    // PKCE (S256 only in v9) for every client, not only public ones.
    pkce: { required: () => true },
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test-rs256', use: 'sig', alg: 'RS256' }] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    claims: { openid: ['sub', 'acr', 'amr'], email: ['email', 'email_verified'], profile: ['name'] },
    // Claims go into the ID token itself, as e.g. Google does, not only into userinfo.
    conformIdTokenClaims: false,
    features: { devInteractions: { enabled: false } },
    interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(ctx, id) {
      const account = accounts.get(id) ?? { email: `${id}@example.test`, email_verified: true, name: id };
      return { accountId: id, async claims() { return { sub: id, ...account }; } };
    },
    // No consent screen: grant what the client asked for.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client.clientId, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
      await grant.save();
      return grant;
    },
  });
  const callback = provider.callback();
  server.on('request', async (req, res) => {
    try {
      // oidc-provider takes either way of sending a secret for both methods; Apple's token
      // endpoint takes the form alone, and so does this one with CLIENT_AUTH=client_secret_post.
      if (CLIENT_AUTH === 'client_secret_post' && req.url.startsWith('/token') && req.headers.authorization) {
        res.writeHead(401, { 'content-type': 'application/json' });
        return res.end(JSON.stringify({ error: 'invalid_client', error_description: 'the secret goes in the form' }));
      }
      if (req.url.startsWith('/interaction/')) {
        const details = await provider.interactionDetails(req, res);
        if (req.method === 'GET') {
          res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
          return res.end(loginPage(details.uid, details.params.client_id));
        }
        const form = await readForm(req);
        const id = form.get('login') || 'alice';
        accounts.set(id, {
          email: form.get('email') || `${id}@example.test`,
          email_verified: form.get('email_verified') === 'true',
          name: form.get('name') || id,
        });
        const amr = (form.get('amr') || '').split(',').map((s) => s.trim()).filter(Boolean);
        return await provider.interactionFinished(req, res,
          { login: { accountId: id, ...(amr.length ? { amr } : {}) } }, { mergeWithLastSubmission: false });
      }
      return callback(req, res);
    } catch (err) {
      console.error(err);
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
  step('serving');
  console.log(`ISSUER=${issuer}`);
});

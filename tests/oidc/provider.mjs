// A real OpenID provider for the tests (panva's oidc-provider), on 127.0.0.1.
//
//   node provider.mjs PORT CONFIG_JSON
//
// CONFIG_JSON: {"clients": [{"client_id", "client_secret", "redirect_uris",
// "tamper"?}], "accounts": ["subject", ...]}.  Every client must use PKCE
// (S256).  The login page is a one-field form (the test account's subject);
// consent is granted with the login.  `tamper` is a test knob on ONE client:
// "aud" signs its ID tokens for another audience, "nonce" puts a nonce other
// than the requested one in them, "expired" makes them expire two minutes
// before they are issued -- the provider, its keys and its signature
// stay real, so the relying party must catch it by its own checks.
// Prints "ready <issuer>" on stdout once listening.
import { generateKeyPairSync } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const config = JSON.parse(process.argv[3]);
const issuer = `http://127.0.0.1:${port}`;
const accounts = new Set(config.accounts);
const tamper = new Map(config.clients.filter((c) => c.tamper).map((c) => [c.client_id, c.tamper]));

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' };

const provider = new Provider(issuer, {
  clients: config.clients.map(({ tamper: _t, ...c }) => ({
    grant_types: ['authorization_code'], response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic', ...c,
  })),
  jwks: { keys: [jwk] },
  pkce: { required: () => true },
  // HS256 only for a client that asks for it (the alg-confusion test); RS256 otherwise.
  enabledJWA: { idTokenSigningAlgValues: ['RS256', 'HS256'] },
  features: { devInteractions: { enabled: false } },
  cookies: { keys: ['evote-test-provider-cookie-key'] },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  async findAccount(ctx, id) {
    if (!accounts.has(id)) return undefined;
    return { accountId: id, async claims() { return { sub: id }; } };
  },
});

// The test knobs (see above): applied to the ID token just before it is signed.
const issue = provider.IdToken.prototype.issue;
provider.IdToken.prototype.issue = function issueTampered(...args) {
  const knob = tamper.get(this.client.clientId);
  if (knob === 'nonce') this.set('nonce', 'not-the-nonce-that-was-asked-for');
  if (knob === 'aud') {
    const real = this.client;
    this.client = Object.create(real, { clientId: { value: 'some-other-relying-party' } });
  }
  if (knob === 'expired') args[0] = { ...args[0], expiresAt: Math.floor(Date.now() / 1000) - 120 };
  return issue.apply(this, args);
};

async function form(ctx) {
  let body = '';
  for await (const chunk of ctx.req) body += chunk;
  return new URLSearchParams(body);
}

const escape = (s) => String(s).replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);

provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(\/login)?$/.exec(ctx.path);
  if (!m) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (ctx.method === 'GET' && !m[2]) {
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="en"><title>City login</title><h1>City login</h1>
<form method="post" action="/interaction/${escape(details.uid)}/login">
<label for="login">Subject</label><input id="login" name="login" autocomplete="off">
<button type="submit">Sign in</button></form>`;
    return undefined;
  }
  if (ctx.method === 'POST' && m[2]) {
    const accountId = (await form(ctx)).get('login') || '';
    if (!accounts.has(accountId)) {
      ctx.status = 403;
      ctx.body = 'unknown account';
      return undefined;
    }
    const grant = new provider.Grant({ accountId, clientId: details.params.client_id });
    grant.addOIDCScope('openid');
    const grantId = await grant.save();
    const to = await provider.interactionResult(ctx.req, ctx.res,
      { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  }
  return next();
});

provider.listen(port, '127.0.0.1', () => { process.stdout.write(`ready ${issuer}\n`); });

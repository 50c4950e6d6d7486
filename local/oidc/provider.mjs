// The local stack's OpenID Connect provider: oidc-provider (OpenID-certified) with cutru's clients, accounts and
// signing keys, for development, the demo and the tests. Production points cutru at Keycloak or the ministry's
// single sign-on instead (docs/authentication.md).
//
//   node provider.mjs CONFIG.json
//
// CONFIG.json is written by cutru_local.oidc: issuer, host, port, the API's audience, the private signing keys
// (JWKS), cookie keys, the clients (with the claims their client-credentials tokens carry) and the path of the
// accounts file. The accounts file is read again whenever it changes, so officers seeded after start can sign in.
// Storage is in memory: a restart forgets sessions and codes, which is what a local provider should do.

import { readFileSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { scryptSync, timingSafeEqual } from 'node:crypto';

import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const API_SCOPE = 'api';
const TOKEN_CLAIMS = ['roles', 'police_units', 'cutru_procedures', 'officer_id', 'name'];

let accountsCache = { mtimeMs: -1, data: { accounts: {} } };

function accountsFile() {
  const { mtimeMs } = statSync(config.accounts_file);
  if (mtimeMs !== accountsCache.mtimeMs) {
    accountsCache = { mtimeMs, data: JSON.parse(readFileSync(config.accounts_file, 'utf8')) };
  }
  return accountsCache.data;
}

function activeAccount(id) {
  const account = Object.hasOwn(accountsFile().accounts, id) ? accountsFile().accounts[id] : undefined;
  return account && account.active ? account : undefined;
}

function passwordMatches(password) {
  const { salt, hash, n, r, p } = accountsFile().password;
  const expected = Buffer.from(hash, 'base64');
  const actual = scryptSync(password, Buffer.from(salt, 'base64'), expected.length, { N: n, r, p, maxmem: 256 * n * r });
  return timingSafeEqual(actual, expected);
}

function pick(source) {
  const claims = {};
  for (const name of TOKEN_CLAIMS) {
    if (source[name] !== undefined && source[name] !== null) claims[name] = source[name];
  }
  return claims;
}

const clientClaims = new Map(config.clients.map((client) => [client.client_id, client.claims ?? {}]));
const clients = config.clients.map(({ claims, ...metadata }) => metadata);

const provider = new Provider(config.issuer, {
  clients,
  jwks: config.jwks,
  cookies: { keys: config.cookie_keys },
  claims: { openid: ['sub'], profile: ['name'] },
  scopes: ['openid', 'profile', API_SCOPE],
  pkce: { required: () => true },
  responseTypes: ['code'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every token is for the cutru API unless the client names another resource (there is none).
      defaultResource: () => config.audience,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, indicator) => {
        if (indicator !== config.audience) throw new errors.InvalidTarget();
        return {
          scope: API_SCOPE,
          audience: config.audience,
          accessTokenFormat: 'jwt',
          accessTokenTTL: config.access_token_ttl,
          jwt: { sign: { alg: config.access_token_alg } },
        };
      },
    },
  },
  extraTokenClaims: (ctx, token) => {
    if (token.kind === 'ClientCredentials') return pick(clientClaims.get(token.clientId) ?? {});
    const account = token.accountId ? activeAccount(token.accountId) : undefined;
    return account ? pick(account) : undefined;
  },
  findAccount: (ctx, sub) => {
    const account = activeAccount(sub);
    if (!account) return undefined;
    return { accountId: sub, claims: () => ({ sub, name: account.name }) };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  // A desk page on any loopback port may redeem its code in the browser (public clients only).
  clientBasedCORS: (ctx, origin, client) => client.clientAuthMethod === 'none' && isLoopbackOrigin(origin),
  ttl: {
    AccessToken: config.access_token_ttl,
    ClientCredentials: config.access_token_ttl,
    IdToken: config.access_token_ttl,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  renderError: (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Lỗi đăng nhập / Sign-in error',
      `<p>${escapeHtml(out.error)}: ${escapeHtml(out.error_description ?? '')}</p>`);
  },
});
// Behind nothing: the provider is reached directly on the loopback address.
provider.proxy = false;

function isLoopbackOrigin(origin) {
  const url = URL.parse(origin);
  return url !== null && url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>`
    + `<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`;
}

function loginPage(uid, clientId, message) {
  const notice = message ? `<p role="alert">${escapeHtml(message)}</p>` : '';
  return page('Đăng nhập cutru / Sign in to cutru', `${notice}
<p>Ứng dụng / Application: ${escapeHtml(clientId)}</p>
<form method="post" action="/interaction/${escapeHtml(uid)}/login" autocomplete="off">
  <label>Mã cán bộ / Username <input name="username" required autofocus></label>
  <label>Mật khẩu / Password <input name="password" type="password" required></label>
  <button type="submit">Đăng nhập / Sign in</button>
</form>
<p><a href="/interaction/${escapeHtml(uid)}/abort">Huỷ / Cancel</a></p>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 16 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

// Consent is granted at once: every registered client is one of cutru's own (first-party) applications.
async function grantConsent(req, res, details) {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  const grantId = await grant.save();
  const consent = details.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function interaction(req, res, path) {
  const [, , uid, action] = path.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return send(res, 400, page('Lỗi / Error', '<p>interaction mismatch</p>'));
  if (req.method === 'GET' && action === undefined) {
    if (details.prompt.name === 'consent') return grantConsent(req, res, details);
    return send(res, 200, loginPage(uid, details.params.client_id));
  }
  if (req.method === 'GET' && action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'the user cancelled the sign-in',
    }, { mergeWithLastSubmission: false });
  }
  if (req.method === 'POST' && action === 'login' && details.prompt.name === 'login') {
    const form = await readForm(req);
    const username = (form.get('username') ?? '').trim();
    if (!activeAccount(username) || !passwordMatches(form.get('password') ?? '')) {
      return send(res, 401, loginPage(uid, details.params.client_id,
        'Sai mã cán bộ hoặc mật khẩu, hoặc tài khoản đã bị khoá. / Wrong username or password, or the account is disabled.'));
    }
    return provider.interactionFinished(req, res, { login: { accountId: username } }, { mergeWithLastSubmission: false });
  }
  return send(res, 404, page('Không tìm thấy / Not found', ''));
}

const callback = provider.callback();
const server = createServer((req, res) => {
  const path = new URL(req.url, config.issuer).pathname;
  if (!path.startsWith('/interaction/')) return callback(req, res);
  interaction(req, res, path).catch((error) => {
    if (res.headersSent) return res.destroy();
    const expired = error instanceof errors.SessionNotFound;
    send(res, expired ? 400 : 500, page('Lỗi đăng nhập / Sign-in error',
      `<p>${expired ? 'Phiên đăng nhập đã hết hạn; hãy bắt đầu lại. / The sign-in expired; start again.' : 'internal error'}</p>`));
    if (!expired) console.error(error);
  });
});

server.listen(config.port, config.host, () => {
  console.log(JSON.stringify({ event: 'oidc provider listening', issuer: config.issuer }));
});

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
}

// A real OpenID provider for the test suite: npm `oidc-provider` (pinned in
// tests/package.json) with a configuration of ours.
//
// Listens on 127.0.0.1 (port 0, or IDP_PORT to come back on the same port),
// issuer `http://127.0.0.1:<port>` without a trailing slash, and prints one
// line `READY <issuer>` to stdout once it accepts connections. Everything
// else goes to stderr.
//
// Environment:
//   IDP_PORT              port to listen on (default 0: any free port)
//   IDP_KEYS_FILE         private JWKS: loaded when the file exists, written
//                         with the freshly generated keys when it does not
//   IDP_DEFAULT_RESOURCE  resource used when a request names none
//   IDP_RESOURCES         comma list of further accepted resource prefixes
//                         (http://127.0.0.1 and http://localhost always are)
//   IDP_AT_TTL            access token lifetime in seconds (default 300)
//   IDP_AT_ALG            default access token alg, RS256 (default) or ES256
//   IDP_DCR               `open` (default) or `token`: registration then
//                         needs the initial access token `iat-secret`
//   IDP_USER_GROUPS       comma list of groups of interactive users ("dba")
//
// Without a fresh key file every start generates new RS256 and ES256 keys
// with random `kid`s, so a restart is a key rotation.

import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';

// oidc-provider prints notices with console.info; stdout carries only READY.
console.info = (...args) => console.error(...args);
console.log = (...args) => console.error(...args);

const { default: Provider, errors } = await import('oidc-provider');

const env = process.env;
const AT_TTL = Number.parseInt(env.IDP_AT_TTL ?? '300', 10);
if (!Number.isSafeInteger(AT_TTL) || AT_TTL <= 0) {
  throw new Error(`IDP_AT_TTL must be a positive integer, got ${env.IDP_AT_TTL}`);
}
const SIGNING_ALGS = new Set(['RS256', 'ES256']);
const DEFAULT_AT_ALG = env.IDP_AT_ALG ?? 'RS256';
if (!SIGNING_ALGS.has(DEFAULT_AT_ALG)) {
  throw new Error(`IDP_AT_ALG must be RS256 or ES256, got ${DEFAULT_AT_ALG}`);
}
const DCR_MODE = env.IDP_DCR ?? 'open';
if (!['open', 'token'].includes(DCR_MODE)) {
  throw new Error(`IDP_DCR must be "open" or "token", got ${DCR_MODE}`);
}
const INITIAL_ACCESS_TOKEN = 'iat-secret';
const RESOURCE_PREFIXES = [
  'http://127.0.0.1',
  'http://localhost',
  ...(env.IDP_RESOURCES ?? '').split(',').map((s) => s.trim()).filter(Boolean),
];
const USER_GROUPS = (env.IDP_USER_GROUPS ?? 'dba').split(',').map((s) => s.trim()).filter(Boolean);
const MACHINE_GROUPS = ['cnpg-operators'];
const DEFAULT_ACCOUNT = 'alice';

// Every scope a token may carry. Scopes not listed here are dropped
// silently by oidc-provider (never an error).
const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'groups', 'mcp:read', 'mcp:write'];

function log(...args) {
  console.error('[idp]', ...args);
}

// ---------------------------------------------------------------- keys

function newSigningKeys() {
  const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return {
    keys: [
      { ...rsa, kid: `rsa-${crypto.randomUUID()}`, alg: 'RS256', use: 'sig' },
      { ...ec, kid: `ec-${crypto.randomUUID()}`, alg: 'ES256', use: 'sig' },
    ],
  };
}

function signingKeys() {
  const file = env.IDP_KEYS_FILE;
  if (file && fs.existsSync(file)) {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  }
  const jwks = newSigningKeys();
  if (file) {
    fs.writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  }
  return jwks;
}

// ---------------------------------------------------------------- accounts

function account(accountId) {
  return {
    accountId,
    async claims() {
      return {
        sub: accountId,
        preferred_username: accountId,
        name: accountId,
        email: `${accountId}@example.test`,
        email_verified: true,
        groups: USER_GROUPS,
      };
    },
  };
}

// ---------------------------------------------------------------- resources

function acceptedResource(indicator) {
  return RESOURCE_PREFIXES.some((prefix) => indicator.startsWith(prefix));
}

function accessTokenAlg(client) {
  const alg = client?.access_token_signed_response_alg;
  return SIGNING_ALGS.has(alg) ? alg : DEFAULT_AT_ALG;
}

// ---------------------------------------------------------------- server

// The issuer names the port, so bind first and build the provider after.
let handler = (_req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = http.createServer((req, res) => handler(req, res));
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number.parseInt(env.IDP_PORT ?? '0', 10), '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  jwks: signingKeys(),
  clients: [
    {
      client_id: 'mcp-machine',
      client_secret: 'machine-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES.join(' '),
    },
    {
      client_id: 'mcp-machine-es256',
      client_secret: 'machine-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES.join(' '),
      access_token_signed_response_alg: 'ES256',
    },
    {
      client_id: 'other-machine',
      client_secret: 'other-secret',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
      scope: SCOPES.join(' '),
      preferred_username: 'other-machine',
      groups: ['other-team'],
    },
  ],
  // Basic and post are both accepted whatever a client registered.
  clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
  clientDefaults: {
    grant_types: ['authorization_code', 'refresh_token'],
    id_token_signed_response_alg: 'RS256',
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  },
  // Our own client metadata: the alg of the client's JWT access tokens, and
  // the identity claims of a machine client.
  extraClientMetadata: {
    properties: ['access_token_signed_response_alg', 'preferred_username', 'groups'],
    validator(_ctx, key, value) {
      if (value === undefined) return;
      if (key === 'access_token_signed_response_alg' && !SIGNING_ALGS.has(value)) {
        throw new errors.InvalidClientMetadata(`${key} must be RS256 or ES256`);
      }
      if (key === 'preferred_username' && typeof value !== 'string') {
        throw new errors.InvalidClientMetadata(`${key} must be a string`);
      }
      if (key === 'groups' && !(Array.isArray(value) && value.every((g) => typeof g === 'string'))) {
        throw new errors.InvalidClientMetadata(`${key} must be an array of strings`);
      }
    },
  },
  responseTypes: ['code'],
  scopes: SCOPES,
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  async findAccount(_ctx, sub) {
    return account(sub);
  },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    // RFC 8628, for `cnpg-mcp login --device`; the default pages of
    // oidc-provider (user code input and confirmation) are enough for tests.
    deviceFlow: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    registration: {
      enabled: true,
      initialAccessToken: DCR_MODE === 'token' ? INITIAL_ACCESS_TOKEN : false,
    },
    resourceIndicators: {
      enabled: true,
      async defaultResource(_ctx, _client, oneOf) {
        if (oneOf) return oneOf;
        return env.IDP_DEFAULT_RESOURCE || undefined;
      },
      // A refresh or code exchange without `resource` still yields a JWT
      // for the resource granted at the authorization endpoint.
      async useGrantedResource() {
        return true;
      },
      async getResourceServerInfo(_ctx, indicator, client) {
        if (!acceptedResource(indicator)) {
          throw new errors.InvalidTarget(`resource ${indicator} is not served by this test IdP`);
        }
        return {
          scope: SCOPES.join(' '),
          audience: indicator,
          accessTokenTTL: AT_TTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: accessTokenAlg(client) } },
        };
      },
    },
  },
  async extraTokenClaims(_ctx, token) {
    if (token.kind === 'ClientCredentials') {
      const client = token.client ?? (await provider.Client.find(token.clientId));
      return {
        preferred_username: client?.preferred_username ?? token.clientId,
        groups: client?.groups ?? MACHINE_GROUPS,
      };
    }
    if (token.accountId) {
      return { preferred_username: token.accountId, groups: USER_GROUPS };
    }
    return undefined;
  },
  // A refresh token for every code exchange (authorization or device code)
  // of a client that may refresh, with or without `offline_access`.
  async issueRefreshToken(_ctx, client, source) {
    return (
      client.grantTypeAllowed('refresh_token') &&
      (['AuthorizationCode', 'DeviceCode'].includes(source.kind) || source.scopes.has('offline_access'))
    );
  },
  rotateRefreshToken: true,
  pkce: { required: () => true },
  clientBasedCORS: () => true,
  ttl: {
    AccessToken: AT_TTL,
    ClientCredentials: AT_TTL,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
    RefreshToken: 86400,
  },
  interactions: {
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});

// Errors go to stderr, for the fixture's log.
for (const event of [
  'server_error',
  'authorization.error',
  'grant.error',
  'registration_create.error',
  'registration_read.error',
  'discovery.error',
  'jwks.error',
  'introspection.error',
  'revocation.error',
  'userinfo.error',
  'end_session.error',
  'resume.error',
  'pushed_authorization_request.error',
]) {
  provider.on(event, (_ctx, err) => {
    log(event, err?.name, err?.message, err?.error_description ?? '', err?.error_detail ?? '');
  });
}
provider.on('grant.success', (ctx) => log('token issued', ctx.oidc.params?.grant_type, ctx.oidc.client?.clientId));

// Auto-approving interaction, keyed by the uid in the path so that it needs
// no cookie: sign in `login_hint` (or alice, or the account of the current
// session), grant everything requested, go back to the authorization
// endpoint. `login_hint=deny` answers access_denied instead.
async function interaction(ctx, uid) {
  const details = await provider.Interaction.find(uid);
  if (!details) {
    ctx.status = 400;
    ctx.body = { error: 'invalid_request', error_description: 'interaction not found or expired' };
    return;
  }
  const { params, prompt } = details;
  let result;
  if (params.login_hint === 'deny') {
    result = { error: 'access_denied', error_description: 'the test user denied the request' };
  } else {
    const accountId = details.session?.accountId ?? params.login_hint ?? DEFAULT_ACCOUNT;
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId, clientId: params.client_id });
    const requested = (params.scope ?? '').split(' ').filter(Boolean);
    const oidcScopes = requested.filter((s) => SCOPES.includes(s));
    if (oidcScopes.length) grant.addOIDCScope(oidcScopes.join(' '));
    if (params.claims) {
      const claims = JSON.parse(params.claims);
      const names = [...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})];
      if (names.length) grant.addOIDCClaims(names);
    }
    const resources = [params.resource ?? []].flat();
    for (const resource of resources) {
      if (requested.length) grant.addResourceScope(resource, requested.join(' '));
    }
    const grantId = await grant.save();
    result = { consent: { grantId } };
    if (prompt.name === 'login' || !details.session?.accountId) {
      result.login = { accountId };
    }
    log('interaction', uid, prompt.name, 'as', accountId, 'scope', requested.join(' '), 'resource', resources.join(' '));
  }
  details.result = result;
  await details.save(Math.max(details.exp - Math.floor(Date.now() / 1000), 1));
  ctx.status = 303;
  ctx.redirect(details.returnTo);
}

provider.use(async (ctx, next) => {
  // RFC 8414 metadata: the same document as OpenID discovery.
  if (ctx.path === '/.well-known/oauth-authorization-server') {
    ctx.path = '/.well-known/openid-configuration';
    return next();
  }
  const match = /^\/interaction\/([A-Za-z0-9_-]+)$/.exec(ctx.path);
  if (match && ['GET', 'POST'].includes(ctx.method)) {
    return interaction(ctx, match[1]);
  }
  // A client without a cookie jar comes back to `/auth/<uid>` without the
  // resume cookie; the uid in the path is enough for a test IdP.
  const resume = /^\/auth\/([A-Za-z0-9_-]+)$/.exec(ctx.path);
  if (resume && !ctx.cookies.get(provider.cookieName('resume'))) {
    const cookie = `${provider.cookieName('resume')}=${resume[1]}`;
    ctx.req.headers.cookie = ctx.req.headers.cookie ? `${ctx.req.headers.cookie}; ${cookie}` : cookie;
  }
  return next();
});

handler = provider.callback();
process.stdout.write(`READY ${issuer}\n`);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}

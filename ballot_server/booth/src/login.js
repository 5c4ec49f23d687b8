// Reading what the voter gives as a login: the bare login code, or the whole
// `.login` file the election office sent (pasted or loaded).  The file is the
// one cli/voters.py writes (LOGIN_FILE_TYPE "evote-login", version 1):
// {"type", "v", "election", "voter", "login_code"}.  Pure: no DOM.
//
// Or the session token the server's OpenID Connect callback hands back after
// the city's provider login (ballot_server/oidc.py), in the URL fragment
// `#oidc=<token>` so that it never reaches a server log or a Referer.

export const LOGIN_FILE_TYPE = 'evote-login';
export const LOGIN_FILE_VERSION = 1;
const MAX_LOGIN = 1000;

/** A login problem, named by its catalogue key (login.error.*). */
export class LoginTextError extends Error {
  constructor(key, params = {}) {
    super(key);
    this.name = 'LoginTextError';
    this.key = key;
    this.params = params;
  }
}

/**
 * The login code in `text` for election `electionId`.  Throws LoginTextError
 * with key login.error.empty / login.error.file / login.error.election.
 */
export function parseLoginText(text, electionId) {
  const trimmed = String(text ?? '').trim();
  if (!trimmed) throw new LoginTextError('login.error.empty');
  if (!trimmed.startsWith('{')) {
    if (/\s/.test(trimmed) || trimmed.length > MAX_LOGIN) throw new LoginTextError('login.error.file');
    return trimmed;
  }
  let obj;
  try {
    obj = JSON.parse(trimmed);
  } catch {
    throw new LoginTextError('login.error.file');
  }
  if (obj === null || typeof obj !== 'object' || obj.type !== LOGIN_FILE_TYPE || obj.v !== LOGIN_FILE_VERSION
    || typeof obj.login_code !== 'string' || !obj.login_code || obj.login_code.length > MAX_LOGIN
    || /\s/.test(obj.login_code)) {
    throw new LoginTextError('login.error.file');
  }
  if (obj.election !== electionId) throw new LoginTextError('login.error.election', { election: String(obj.election) });
  return obj.login_code;
}

const PROVIDER_TOKEN = /^oidc\.[A-Za-z0-9_-]{1,800}\.[A-Za-z0-9_-]{43}$/;

/** The provider session token in a URL fragment (`#oidc=…`), or null if there is none. */
export function takeProviderToken(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const token = params.get('oidc');
  return token !== null && PROVIDER_TOKEN.test(token) ? token : null;
}

// The refusal codes the server's callback sends a browser back with (`#oidc-error=<code>`,
// ballot_server/oidc.py), each with its own message; any other code gets the general one.
const PROVIDER_ERRORS = {
  oidc_not_registered: 'login.error.oidc_not_registered',
  oidc_refused: 'login.error.oidc_refused',
  oidc_replayed: 'login.error.oidc_expired',
  oidc_token_expired: 'login.error.oidc_expired',
};

/** The catalogue key of a provider refusal in a URL fragment (`#oidc-error=…`), or null. */
export function takeProviderError(hash) {
  const params = new URLSearchParams(String(hash ?? '').replace(/^#/, ''));
  const code = params.get('oidc-error');
  if (code === null || !/^[a-z_]{1,64}$/.test(code)) return null;
  return Object.hasOwn(PROVIDER_ERRORS, code) ? PROVIDER_ERRORS[code] : 'login.error.oidc';
}

/** Where the "Sign in with …" button sends the browser (the server redirects to the provider). */
export function providerStartUrl(electionId) {
  return `/api/v1/elections/${encodeURIComponent(electionId)}/oidc/start`;
}

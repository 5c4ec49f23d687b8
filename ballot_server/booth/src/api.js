// The booth's only network access: same-origin requests to this server's
// /api/v1 and /booth endpoints, by relative URL (no other origin is ever
// contacted; the CSP's connect-src 'self' enforces it too).  What is sent:
// the login code (as a Bearer token), ballots and audited ballots — never the
// private credential.

export class ApiError extends Error {
  constructor(status, code, message, detail = null) {
    super(message);
    this.name = 'ApiError';
    Object.assign(this, { status, code, detail });
  }
}

export class NetworkError extends Error {}

/** A request that took longer than this is abandoned (the cast machine then looks it up). */
export const TIMEOUT_MS = 30000;

/**
 * `body` is a JSON value, or `raw` the exact text to send (a ballot's
 * canonical bytes, so that a resend is byte for byte the first send).
 */
async function request(method, url, { token = null, body = null, raw = null, timeoutMs = TIMEOUT_MS } = {}) {
  const headers = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== null || raw !== null) headers['Content-Type'] = 'application/json';
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  let response;
  let text;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: raw !== null ? raw : (body === null ? undefined : JSON.stringify(body)),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
      signal: abort.signal,
    });
    text = await response.text();
  } catch (exc) {
    throw new NetworkError(String(exc));
  } finally {
    clearTimeout(timer);
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      throw new ApiError(response.status, 'bad_response', 'the server answered something that is not JSON');
    }
  }
  if (!response.ok) {
    throw new ApiError(response.status, data?.code ?? 'http_error', data?.message ?? response.statusText, data?.detail ?? null);
  }
  return data;
}

const enc = encodeURIComponent;

export function makeApi(electionId) {
  const e = `/api/v1/elections/${enc(electionId)}`;
  return {
    booth: () => request('GET', `/booth/${enc(electionId)}/election.json`),
    login: (token) => request('POST', `/booth/${enc(electionId)}/login`, { token, body: {} }),
    cast: (token, ballotText) => request('POST', `${e}/ballots`, { token, raw: ballotText }),
    audit: (token, audited) => request('POST', `${e}/audits`, { token, body: audited }),
    inclusion: (trackingCode) => request('GET', `${e}/inclusion?tracking_code=${enc(trackingCode)}`),
    inclusionAt: (trackingCode, size) => request('GET', `${e}/inclusion?tracking_code=${enc(trackingCode)}&size=${size}`),
    cosigned: () => request('GET', `${e}/checkpoint/cosigned`),
    ballotEntry: (trackingCode) => request('GET', `${e}/ballots/${enc(trackingCode)}`),
    receiptOf: (trackingCode) => request('GET', `${e}/ballots/${enc(trackingCode)}/receipt`),
    summary: () => request('GET', e),
    summaryUrl: () => e,
    provider: () => request('GET', '/api/v1/oidc'), // the city's OpenID provider, 404 if none
    ballotUrl: (trackingCode) => `${e}/ballots/${enc(trackingCode)}`,
  };
}

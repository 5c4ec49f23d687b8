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

async function request(method, url, { token = null, body = null } = {}) {
  const headers = { Accept: 'application/json' };
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  if (body !== null) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === null ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      redirect: 'error',
      referrerPolicy: 'no-referrer',
    });
  } catch (exc) {
    throw new NetworkError(String(exc));
  }
  let data = null;
  const text = await response.text();
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
    cast: (token, ballot) => request('POST', `${e}/ballots`, { token, body: ballot }),
    audit: (token, audited) => request('POST', `${e}/audits`, { token, body: audited }),
    inclusion: (trackingCode) => request('GET', `${e}/inclusion?tracking_code=${enc(trackingCode)}`),
    inclusionAt: (trackingCode, size) => request('GET', `${e}/inclusion?tracking_code=${enc(trackingCode)}&size=${size}`),
    cosigned: () => request('GET', `${e}/checkpoint/cosigned`),
    ballotEntry: (trackingCode) => request('GET', `${e}/ballots/${enc(trackingCode)}`),
    ballotUrl: (trackingCode) => `${e}/ballots/${enc(trackingCode)}`,
  };
}

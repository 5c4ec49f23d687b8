// Error codes → catalogue keys: what the voter reads for each failure, in one
// place.  The codes are the server's (docs/api.md error codes) and the
// booth's own (errors.js); the keys are entries of ../static/i18n/*.json.

import { ApiError, NetworkError } from './api.js';
import { EvoteError } from './errors.js';

/** Server error codes with a message of their own; any other code is shown as error.server. */
export const API_ERRORS = Object.freeze({
  unauthenticated: 'error.unauthenticated',
  rate_limited: 'error.rate_limited',
  binding: 'error.binding',
  bad_credential: 'error.bad_credential',
  not_found: 'error.not_found',
  not_open_yet: 'error.not_open_yet', // a scheduled election's window (R-TIME-02/03)
  closed: 'error.closed',
});

/** Why a check failed, by the code of the error one of its verifications raised. */
export const CHECK_REASONS = Object.freeze({
  invalid_signature: 'check.reason.signature',
  root_mismatch: 'check.reason.proof',
  merkle: 'check.reason.proof',
  witness_policy: 'check.reason.witnesses',
});

/** Any other verification error of a check: the data was malformed. */
export const CHECK_REASON_OTHER = 'check.reason.format';

/** The check reason for a verification error (EvoteError) raised while checking. */
export const checkReason = (exc) => CHECK_REASONS[exc.code] ?? CHECK_REASON_OTHER;

/**
 * The catalogue key (and params) for an error from the server or the network;
 * `t` translates the phase named by wrong_phase.  Anything else is a bug and
 * is thrown again.
 */
export function failureMessage(exc, t) {
  if (exc instanceof NetworkError) return { key: 'error.network' };
  if (exc instanceof ApiError) {
    if (exc.code === 'wrong_phase') return { key: 'error.not_open', params: { phase: t('phase.closed') } };
    if (API_ERRORS[exc.code]) return { key: API_ERRORS[exc.code] };
    return { key: 'error.server', params: { code: exc.code } };
  }
  if (exc instanceof EvoteError) return { key: 'error.server', params: { code: exc.code } };
  throw exc;
}

/** The message for a malformed credential code (CredentialError's detail says why). */
export function credentialError(exc) {
  const reason = exc.detail?.reason;
  if (reason === 'length') return { key: 'cred.error.length', params: { n: exc.detail.count, expected: exc.detail.expected } };
  if (reason === 'character') return { key: 'cred.error.character', params: { character: exc.detail.character, position: exc.detail.position } };
  return { key: 'cred.error.checksum' };
}

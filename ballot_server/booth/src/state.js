// The booth's whole state: ONE object, every field declared here with what it
// holds.  The object (and its drafts) is sealed, so a screen or an action that
// assigns a field not listed below fails at once (ES modules are strict mode)
// instead of quietly growing a second, undocumented state.

import { initial as castInitial } from './caststate.js';

/**
 * A fresh state for the election `electionId`.  `boothSha256` is the digest
 * the page was served with (the footer shows it until the booth has hashed
 * its own bytes); `api` is the booth's only network access (api.js).
 */
export function createState({ electionId, boothSha256 = '', api = null, providerConfigured = false }) {
  return Object.seal({
    // --- the election ---------------------------------------------------------
    electionId, // the election id from the page (data-election)
    boothSha256, // hex SHA-256 of this bundle: the page's value, then the one computed from our own bytes
    boothOnBoard: null, // 'match' | 'mismatch' (this bundle's digest vs the board's) | 'unpublished'; null: not checked
    api, // makeApi(electionId): the booth's only network access
    election: null, // {ctx, manifest, boardKey, fingerprint, phase} once the fingerprint gate passed
    providerConfigured, // the page says this server has a city OpenID provider (data-oidc): only then is it asked
    provider: null, // {name} of the city's OpenID provider when the server has one (GET /api/v1/oidc), else null
    phaseInfo: null, // {phase, manifest} (not open yet) or {phase, result} (tallied) for the not-open screens

    // --- the voter --------------------------------------------------------------
    token: null, // the login code, once the server accepted it
    seed: null, // the private credential's seed (never leaves the browser)
    selections: null, // [question][option] → value, what the voter marked on screen
    attempted: false, // the voter pressed "Review": show every rule breach
    drafts: Object.seal({ login: '', code: '', check: '', relogin: '' }), // what is typed in each input

    // --- the ballot and its fate ----------------------------------------------
    sealed: null, // {ballot}: the encrypted ballot on screen (its randomness lives only in S.cast while it is unsent)
    cast: castInitial(), // the cast state machine (caststate.js)
    audited: null, // {ballot, revealed, match, receipt, json}: the last audited ballot (checks.auditVerdict)
    receipt: null, // the last cast ballot's receipt (parsed, its raw json, and the ballot hash)

    // --- the check screen -------------------------------------------------------
    check: null, // {steps, failure, pending}: results of the last check
    backTo: null, // the screen to return to from the check screen
    checkTimer: null, // the automatic re-check while a witness cosignature is pending
    recheckCount: 0, // how many automatic re-checks ran for this code

    // --- what is on screen ------------------------------------------------------
    screen: 'loading', // the name of the screen shown (a key of the screen registry)
    busy: false, // a long step runs: buttons are disabled, the status line says what
    error: null, // {field, key, params}: the error shown next to one input or section
    fatal: null, // {key, params}: why the booth stopped (the fatal screen)
  });
}

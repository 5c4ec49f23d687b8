// Loading the election: its data from the server, through the fingerprint
// gate (checks.fingerprintGate), and this bundle's own bytes against the
// digest the official published on the board (why this way:
// ballot_server/booth/README.md).  Then the first screen of the phase.

import { sha256 } from '@noble/hashes/sha2.js';

import { ApiError } from './api.js';
import { resumeCast } from './casting.js';
import { boothDigestVerdict, fingerprintGate, hasUnsentMarks, homeScreen } from './checks.js';
import { bytesToHex } from './encoding.js';
import { EvoteError } from './errors.js';
import { preferredLanguage, setLanguage } from './i18n.js';
import { Manifest } from './manifest.js';
import { failure, go, render, S, stop } from './shell.js';
import { routeHash } from './screens/check.js';
import { providerLogin } from './screens/login.js';

// The <script> element running this bundle (only set while it first runs).
const SCRIPT = document.currentScript;

export async function load() {
  setLanguage(preferredLanguage(navigator.languages));
  render({ focus: false });
  let data;
  try {
    data = await S.api.booth();
  } catch (exc) {
    // 404 here is also an election that exists but has no key or credential
    // list yet: a normal state before opening, not an error.
    if (exc instanceof ApiError && exc.code === 'not_found' && (await notYetSetUp())) return;
    stop(failure(exc));
    return;
  }
  const gate = fingerprintGate(data, S.electionId);
  if (gate.verdict === 'setup') {
    S.phaseInfo = { phase: 'setup', manifest: gate.manifest };
    go('notopen');
    return;
  }
  if (gate.verdict !== 'ok') {
    stop({ key: 'error.fingerprint' });
    return;
  }
  S.election = gate.election;
  let same;
  try {
    same = await ownBundleIsOnTheBoard(data.booth_sha256);
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    S.election = null;
    stop({ key: 'error.fingerprint' }); // a malformed booth_sha256
    return;
  }
  if (!same) {
    S.election = null;
    stop({ key: 'error.booth' });
    return;
  }
  S.selections = S.election.manifest.questions.map((q) => q.options.map(() => 0));
  window.addEventListener('hashchange', () => routeHash());
  window.addEventListener('beforeunload', (ev) => {
    if (hasUnsentMarks(S)) {
      ev.preventDefault();
      ev.returnValue = '';
    }
  });
  // Asked only when the page says there is one: a 404 would be a console error for every voter.
  S.provider = S.election.phase === 'open' && S.providerConfigured ? await S.api.provider().catch(() => null) : null;
  S.screen = homeScreen(S.election.phase);
  if (resumeCast()) {
    await providerLogin('relogin'); // back from the provider while a cast waits for a login
    return;
  }
  if (await providerLogin()) return;
  if (routeHash()) return;
  if (S.election.phase === 'tallied') S.phaseInfo = { phase: 'tallied', result: await resultCounts() };
  go(S.screen);
}

/** The election exists but is not set up yet: show "not yet open" (true), or false if it does not exist. */
async function notYetSetUp() {
  let summary;
  try {
    summary = await S.api.summary();
  } catch {
    return false;
  }
  if (summary?.phase !== 'setup') return false;
  try {
    S.phaseInfo = { phase: 'setup', manifest: Manifest.fromJson(summary.manifest) };
  } catch {
    S.phaseInfo = { phase: 'setup', manifest: null };
  }
  go('notopen');
  return true;
}

/** The published result's counts (null when it cannot be fetched: the screen then only links to it). */
async function resultCounts() {
  try {
    const summary = await S.api.summary();
    return Array.isArray(summary?.result?.counts) ? summary.result.counts : null;
  } catch {
    return null;
  }
}

/**
 * Whether this running bundle is the one the official published on the board.
 *
 * The bytes are fetched with the page's Subresource Integrity hash as the
 * `integrity` option, so the browser hands them over only if they are the very
 * bytes that hash pinned for this script; their SHA-256 must equal the board's
 * booth_sha256.  No digest on the board: nothing to compare (true, noted in
 * the footer).  Any failure to get the bytes counts as a mismatch.
 */
async function ownBundleIsOnTheBoard(published) {
  if (boothDigestVerdict(published, null) === 'unpublished') {
    S.boothOnBoard = 'unpublished';
    return true;
  }
  if (!SCRIPT || !SCRIPT.src || !SCRIPT.integrity) return false;
  let own;
  try {
    const response = await fetch(SCRIPT.src, {
      integrity: SCRIPT.integrity, credentials: 'omit', redirect: 'error', referrerPolicy: 'no-referrer',
    });
    if (!response.ok) return false;
    own = sha256(new Uint8Array(await response.arrayBuffer()));
  } catch {
    return false; // a network failure, or bytes that are not the ones the SRI hash pins
  }
  S.boothSha256 = bytesToHex(own);
  S.boothOnBoard = boothDigestVerdict(published, own);
  return S.boothOnBoard === 'match';
}

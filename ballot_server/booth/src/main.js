// The web voting booth (served by the ballot server at /booth/<election-id>).
//
// Flow: sign in with the login code → enter the private credential (typed
// code with checksum, or the credential file; it never leaves the browser) →
// answer each question within its rule → review → encrypt, prove and sign
// here → the tracking code is shown → cast it, or audit it (the ballot is
// opened, its content checked with verifyAudit, shown and posted, and a fresh
// encryption made) → receipt, with a "check my ballot" page that verifies the
// board's signed tree head and inclusion proof in the browser (and, when the
// election has witnesses, that a checkpoint they cosigned includes the ballot).
//
// Before anything else the booth hashes its own bundle and refuses to run if
// the digest is not the one the official published on the board
// (election_opened.booth_sha256; why this way: ballot_server/booth/README.md).
//
// This file only wires the parts together:
//   state.js      every state field, declared and sealed
//   shell.js      the state object, the page frame, render/go/busy, the screen registry
//   checks.js     the pure decisions (fingerprint gate, receipt, check, audit, rules)
//   messages.js   error codes → catalogue keys
//   casting.js    the driver of the cast state machine (caststate.js), seal and audit
//   load.js       loading the election and the first screen
//   screens/*.js  one module per view, each exporting SCREENS {name: () => node};
//                 screens/ranked.js adds the ranked and graded question kinds

import { registerScreens, stop } from './shell.js';
import { load } from './load.js';
import { SCREENS as BALLOT } from './screens/ballot.js';
import { SCREENS as CAST } from './screens/cast.js';
import { SCREENS as CHECK } from './screens/check.js';
import { SCREENS as CREDENTIAL } from './screens/credential.js';
import { SCREENS as FATAL } from './screens/fatal.js';
import { SCREENS as LOGIN } from './screens/login.js';
import { SCREENS as PHASE } from './screens/phase.js';
import './screens/ranked.js'; // registers the ranked and graded question kinds
import { SCREENS as RECEIPT } from './screens/receipt.js';
import { SCREENS as REVIEW } from './screens/review.js';

for (const screens of [PHASE, FATAL, LOGIN, CREDENTIAL, BALLOT, REVIEW, CAST, RECEIPT, CHECK]) registerScreens(screens);

load().catch((exc) => {
  // A bug, not a verdict: show the generic error rather than a dead page.
  console.error(exc);
  stop({ key: 'error.server', params: { code: 'internal' } });
});

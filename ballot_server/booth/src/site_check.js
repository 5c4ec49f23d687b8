// The public election page's tracking-code check (ballot_server/templates/
// election.html): the one part of that page that runs script.  It is the
// booth's own check (checks.checkOnBoard, with merkle.js and signing.js):
// the board's signed tree head is verified against the board key printed on
// the page, the inclusion proof against that head's root, the entry against
// the tracking code, and with witnesses a cosigned checkpoint that includes it.
// Built by build.mjs into static/site.js (its own bundle, with its SRI hash on
// the page); without it the form still works, answered by the server.

import { makeApi } from './api.js';
import { checkOnBoard } from './checks.js';
import { b64decode } from './encoding.js';
import { CATALOGUES, format, LANGUAGES } from './i18n.js';
import { Manifest } from './manifest.js';

const PENDING = 'check.reason.not_witnessed';

function line(tag, text, attrs = {}) {
  const el = document.createElement(tag);
  el.textContent = text;
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  return el;
}

/** Show a check's outcome in `out` (a live region): the verdict first, then each step that passed. */
export function showResult(out, result, { lang, texts }) {
  const say = (key, params) => format(CATALOGUES[lang], lang, key, params);
  out.replaceChildren();
  let verdict;
  if (result.error) {
    verdict = line('p', texts.network, { class: 'error', 'data-verdict': 'error' });
  } else if (result.failure === PENDING) {
    verdict = line('p', say('check.pending'), { class: 'pending', 'data-verdict': 'pending' });
  } else if (result.failure === 'check.not_found') {
    verdict = line('p', say('check.not_found'), { class: 'error', 'data-verdict': 'not-found' });
  } else if (result.failure) {
    verdict = line('p', say('check.fail', { reason: say(result.failure) }),
      { class: 'error', 'data-verdict': 'failed', 'data-reason': result.failure });
  } else {
    verdict = line('p', say('check.ok'), { class: 'ok', 'data-verdict': 'ok' });
  }
  out.append(verdict);
  if (result.steps.length) {
    const list = document.createElement('ul');
    for (const step of result.steps) list.append(line('li', `✓ ${say(step.key, step.params)}`));
    out.append(list);
  }
}

async function manifestOf(electionId) {
  const response = await fetch(`/api/v1/elections/${encodeURIComponent(electionId)}/manifest`, {
    credentials: 'omit', cache: 'no-store', redirect: 'error', referrerPolicy: 'no-referrer',
  });
  if (!response.ok) throw new Error(`manifest: HTTP ${response.status}`);
  return Manifest.fromJson(await response.json());
}

function start() {
  const form = document.getElementById('check-form');
  const out = document.getElementById('check-output');
  if (!form || !out) return;
  const lang = LANGUAGES.includes(document.documentElement.lang) ? document.documentElement.lang : 'en';
  const { election: electionId } = form.dataset;
  const texts = { network: form.dataset.network };
  const boardKey = b64decode(form.dataset.boardKey, { length: 32 });
  const api = makeApi(electionId);
  let manifest = null;
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = form.elements.tracking_code.value.trim().toUpperCase();
    if (!code) return;
    out.replaceChildren(line('p', form.dataset.checking, { class: 'status', 'data-verdict': 'checking' }));
    let result;
    try {
      manifest = manifest ?? await manifestOf(electionId);
      result = await checkOnBoard(code, {
        boardKey,
        electionId,
        manifest,
        receipt: null,
        fetch: {
          inclusion: (c) => api.inclusion(c),
          ballotEntry: (c) => api.ballotEntry(c),
          cosigned: () => api.cosigned(),
          inclusionAt: (c, size) => api.inclusionAt(c, size),
        },
      });
    } catch (exc) {
      result = { steps: [], failure: null, error: exc };
    }
    showResult(out, result, { lang, texts });
  });
  form.dataset.ready = 'true';
}

if (typeof document !== 'undefined') {
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}

// The private credential: the typed code (with its checksum) or the
// credential file.  It never leaves the browser.

import { parseCredentialCode, parseCredentialFile } from '../credentials.js';
import { h, uid } from '../dom.js';
import { parseJson } from '../encoding.js';
import { CredentialError, EvoteError } from '../errors.js';
import { t } from '../i18n.js';
import { credentialError } from '../messages.js';
import { go, render, S } from '../shell.js';
import { publicKeyOf } from '../signing.js';
import { errorBox, heading, submitButton } from './ui.js';

function useCode() {
  const text = S.drafts.code;
  if (!text.trim()) {
    S.error = { field: 'code', key: 'cred.error.empty' };
    render();
    return;
  }
  try {
    acceptSeed(parseCredentialCode(text.trim()));
  } catch (exc) {
    if (!(exc instanceof CredentialError)) throw exc;
    S.error = { field: 'code', ...credentialError(exc) };
    render();
  }
}

async function useFile(file) {
  if (!file) return;
  let parsed;
  try {
    parsed = parseCredentialFile(parseJson(await file.text()));
  } catch (exc) {
    if (!(exc instanceof EvoteError)) throw exc;
    S.error = exc instanceof CredentialError
      ? { field: 'code', ...credentialError(exc) }
      : { field: 'code', key: 'cred.error.file' };
    render();
    return;
  }
  if (parsed.electionId !== S.electionId) {
    S.error = { field: 'code', key: 'cred.error.election', params: { election: parsed.electionId } };
    render();
    return;
  }
  acceptSeed(parsed.seed);
}

function acceptSeed(seed) {
  publicKeyOf(seed); // a malformed seed fails here, not later
  S.seed = seed;
  S.drafts.code = '';
  go('ballot');
}

export const SCREENS = {
  credential() {
    const inputId = uid('code');
    const hintId = uid('code-hint');
    const errId = uid('code-error');
    const fileId = uid('file');
    return h('section', {},
      heading('cred.heading'),
      h('p', { text: t('cred.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); useCode(); } },
        h('label', { for: inputId, text: t('cred.label') }),
        h('p', { id: hintId, class: 'hint', text: t('cred.hint') }),
        h('input', {
          id: inputId, type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false',
          class: 'code-input', 'aria-describedby': `${hintId} ${errId}`, value: S.drafts.code,
          'aria-invalid': String(S.error?.field === 'code'), 'data-autofocus': true,
          oninput: (ev) => { S.drafts.code = ev.target.value; },
        }),
        errorBox(errId, 'code'),
        submitButton('cred.submit'),
        h('label', { for: fileId, class: 'file-label', text: t('cred.file') }),
        h('input', { id: fileId, type: 'file', accept: '.json,application/json', onchange: (ev) => useFile(ev.target.files[0]) }),
      ),
    );
  },
};

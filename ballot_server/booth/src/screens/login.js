// Signing in with the login code (typed, pasted as the .login file, or loaded
// from it): at the start, and again when a cast needs a fresh login.

import { ApiError } from '../api.js';
import { dispatch } from '../casting.js';
import { h, uid } from '../dom.js';
import { LoginTextError, parseLoginText, providerStartUrl, takeProviderError, takeProviderToken } from '../login.js';
import { t } from '../i18n.js';
import { busy, failure, go, render, S } from '../shell.js';
import { button, errorBox, heading, submitButton, trackingBlock } from './ui.js';

/** Sign in with the draft of `field` ('login' or 'relogin'). */
async function signIn(field = 'login') {
  const draft = field === 'relogin' ? S.drafts.relogin : S.drafts.login;
  let token;
  try {
    token = parseLoginText(draft, S.electionId);
  } catch (exc) {
    if (!(exc instanceof LoginTextError)) throw exc;
    S.error = { field, key: exc.key, params: exc.params };
    render();
    return;
  }
  try {
    await busy('status.working', () => S.api.login(token));
  } catch (exc) {
    S.error = exc instanceof ApiError && exc.code === 'unauthenticated'
      ? { field, key: 'login.error.wrong' }
      : { field, ...failure(exc) };
    render();
    return;
  }
  S.token = token;
  S.drafts.login = '';
  S.drafts.relogin = '';
  dispatch({ type: 'TOKEN', has: true }); // need_login → sending the same bytes
  if (field === 'relogin') return;
  go(S.seed ? 'ballot' : 'credential');
}

/**
 * Back from the city's OpenID provider: sign in with the session token in the
 * fragment, or show the refusal the server sent back (`#oidc-error=<code>`).
 * `field` is 'relogin' when a cast in doubt was resumed (need_login): the
 * token then lets the cast machine send the same sealed bytes again.
 */
export async function providerLogin(field = 'login') {
  const token = takeProviderToken(location.hash);
  const refusal = token === null ? takeProviderError(location.hash) : null;
  if (token === null && refusal === null) return false;
  history.replaceState(null, '', location.pathname + location.search);
  if (refusal !== null) {
    if (field === 'login') go('login'); // go() clears the error: set it after
    S.error = { field, key: refusal };
    render();
    return true;
  }
  if (field === 'relogin') {
    S.drafts.relogin = token;
  } else {
    S.drafts.login = token;
    go('login');
  }
  await signIn(field);
  return true;
}

/** The "Sign in with …" button, when the server has a provider. */
function providerButton() {
  return S.provider ? button('login.provider', () => location.assign(providerStartUrl(S.electionId)),
    { primary: true, params: { name: S.provider.name } }) : null;
}

async function useLoginFile(file, field) {
  if (!file) return;
  const text = await file.text();
  if (field === 'relogin') S.drafts.relogin = text;
  else S.drafts.login = text;
  await signIn(field);
}

function loginFileInput(field) {
  const fileId = uid('login-file');
  return [
    h('label', { for: fileId, class: 'file-label', text: t('login.file') }),
    h('input', { id: fileId, type: 'file', accept: '.login,.json,application/json,text/plain', onchange: (ev) => useLoginFile(ev.target.files[0], field) }),
  ];
}

export const SCREENS = {
  login() {
    const inputId = uid('login');
    const errId = uid('login-error');
    const hintId = uid('login-hint');
    const input = h('input', {
      id: inputId, type: 'password', autocomplete: 'off', spellcheck: 'false',
      'aria-describedby': `${hintId} ${errId}`, 'aria-invalid': String(S.error?.field === 'login'),
      value: S.drafts.login, 'data-autofocus': true,
      oninput: (ev) => { S.drafts.login = ev.target.value; },
    });
    return h('section', {},
      heading('login.heading'),
      h('p', { text: t('login.intro') }),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); signIn(); } },
        h('label', { for: inputId, text: t('login.label') }),
        h('p', { id: hintId, class: 'hint', text: t('login.hint') }),
        input,
        errorBox(errId, 'login'),
        submitButton('login.submit'),
        loginFileInput('login'),
      ),
      providerButton(),
    );
  },

  need_login() {
    const inputId = uid('relogin');
    const errId = uid('relogin-error');
    return h('section', {},
      heading('need_login.heading'),
      h('p', { text: t('need_login.intro') }),
      trackingBlock(S.cast.code),
      h('form', { novalidate: true, onsubmit: (ev) => { ev.preventDefault(); signIn('relogin'); } },
        h('label', { for: inputId, text: t('login.label') }),
        h('input', {
          id: inputId, type: 'password', autocomplete: 'off', spellcheck: 'false',
          'aria-describedby': errId, 'aria-invalid': String(S.error?.field === 'relogin'),
          value: S.drafts.relogin, 'data-autofocus': true,
          oninput: (ev) => { S.drafts.relogin = ev.target.value; },
        }),
        errorBox(errId, 'relogin'),
        submitButton('need_login.submit'),
        loginFileInput('relogin'),
      ),
      // Leaves the page: the sealed ballot waits in sessionStorage and is resent on return.
      providerButton(),
    );
  },
};

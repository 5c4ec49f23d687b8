// The booth's shell: the one state object (state.js), the page frame (header
// with the language switch, the screen, the status line, the footer), and
// the screen registry.  Screens are plain functions of the state that build
// DOM nodes (dom.js); each screens/*.js module registers its own, and render
// shows the one S.screen names.  Focus moves to each new screen's heading;
// errors are announced through role="alert".

import { makeApi } from './api.js';
import { b64encode } from './encoding.js';
import { h } from './dom.js';
import { LANGUAGES, language, setLanguage, t } from './i18n.js';
import { failureMessage } from './messages.js';
import { createState } from './state.js';

const root = document.getElementById('booth');

/** The booth's state: every field is declared (and documented) in state.js. */
export const S = createState({
  electionId: root.dataset.election,
  boothSha256: root.dataset.boothSha256 || '',
  api: makeApi(root.dataset.election),
  providerConfigured: root.dataset.oidc === 'yes',
});

export const frame = {
  title: document.getElementById('booth-title'),
  langs: document.getElementById('booth-langs'),
  main: document.getElementById('booth-main'),
  status: document.getElementById('booth-status'),
  footer: document.getElementById('booth-footer'),
};

const SCREENS = {};

/** Add screens ({name: () => node}); a name registered twice is a bug. */
export function registerScreens(screens) {
  for (const [name, view] of Object.entries(screens)) {
    if (name in SCREENS) throw new Error(`screen ${name} is registered twice`);
    SCREENS[name] = view;
  }
}

function renderFrame() {
  document.title = S.election ? `${S.election.manifest.label(language())} — ${t('app.title')}` : t('app.title');
  frame.title.textContent = S.election ? S.election.manifest.label(language()) : t('app.title');
  frame.langs.replaceChildren(
    h('span', { class: 'visually-hidden', id: 'lang-label', text: t('lang.label') }),
    ...LANGUAGES.map((lang) => h('button', {
      type: 'button',
      class: 'lang',
      lang,
      'aria-pressed': String(lang === language()),
      'aria-describedby': 'lang-label',
      'data-lang': lang,
      onclick: () => switchLanguage(lang),
    }, t(`lang.${lang}`))),
  );
  const fp = S.election ? b64encode(S.election.fingerprint) : null;
  // replaceChildren would print a null as the text "null": keep only the parts there are.
  frame.footer.replaceChildren(...[
    h('p', {}, h('a', { href: '#check', 'data-testid': 'check-link', text: t('footer.check') })),
    h('p', { text: t('footer.private') }),
    fp && h('p', {}, `${t('footer.fingerprint')}: `, h('code', { class: 'digest', text: fp })),
    S.boothSha256 && h('p', {}, `${t('footer.booth')}: `, h('code', { class: 'digest', text: S.boothSha256 }),
      S.boothOnBoard === null ? null : ` (${t(`footer.booth_${S.boothOnBoard}`)})`),
  ].filter(Boolean));
}

function switchLanguage(lang) {
  setLanguage(lang);
  render({ focus: false });
  frame.langs.querySelector(`[data-lang="${lang}"]`)?.focus();
}

export function setStatus(text) {
  frame.status.textContent = text || '';
}

/** Replace the screen; move focus to its heading (a new page for a screen reader). */
export function render({ focus = true } = {}) {
  renderFrame();
  const screen = SCREENS[S.screen]();
  frame.main.replaceChildren(screen);
  frame.main.setAttribute('aria-busy', String(S.busy));
  if (focus) {
    const target = frame.main.querySelector('[data-autofocus]') || frame.main.querySelector('h2');
    target?.focus();
  }
}

export function go(screen) {
  S.screen = screen;
  S.error = null;
  render();
}

/** Run a long step with the status line saying what, and the buttons disabled. */
export async function busy(statusKey, work) {
  S.busy = true;
  setStatus(t(statusKey));
  render({ focus: false });
  // Let the browser paint the status before a long synchronous step.
  await new Promise((resolve) => setTimeout(resolve, 30));
  try {
    return await work();
  } finally {
    S.busy = false;
    setStatus('');
  }
}

/** The catalogue key (and params) for an error from the server or the network (messages.js). */
export const failure = (exc) => failureMessage(exc, t);

/** Stop on the fatal screen: `reason` is {key, params}. */
export function stop(reason) {
  S.fatal = reason;
  go('fatal');
}

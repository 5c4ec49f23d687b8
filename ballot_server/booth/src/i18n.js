// Every string the booth shows comes from a catalogue: ballot_server/static/i18n/
// en.json and ru.json, bundled in (so the strings are covered by the bundle's
// integrity hash like the code).  A message is a string with {name}
// placeholders, or an object of plural forms chosen by Intl.PluralRules
// with the parameter `n`.

import en from '../../static/i18n/en.json' with { type: 'json' };
import ru from '../../static/i18n/ru.json' with { type: 'json' };

export const CATALOGUES = Object.freeze({ en, ru });
export const LANGUAGES = Object.freeze(['en', 'ru']);

let current = 'en';

export function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) throw new RangeError(`unsupported language ${lang}`);
  current = lang;
  document.documentElement.lang = lang;
}

export const language = () => current;

/** The language to start in: the browser's first supported preference, else English. */
export function preferredLanguage(navigatorLanguages) {
  for (const tag of navigatorLanguages || []) {
    const base = String(tag).toLowerCase().split('-')[0];
    if (LANGUAGES.includes(base)) return base;
  }
  return 'en';
}

export function format(catalogue, lang, key, params = {}) {
  let msg = catalogue[key];
  if (msg === undefined) throw new RangeError(`no message ${key}`);
  if (typeof msg === 'object') {
    const form = new Intl.PluralRules(lang).select(Number(params.n));
    msg = msg[form] ?? msg.other;
  }
  return msg.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

export const t = (key, params) => format(CATALOGUES[current], current, key, params);

/**
 * "1st", "2nd", "3rd" / "1-й", "2-й": a rank in the current language.  The
 * ordinal form is chosen by Intl.PluralRules({type: 'ordinal'}), one
 * catalogue key per form (rank.ordinal.one|two|few|other).
 */
export function ordinal(n) {
  const form = new Intl.PluralRules(current, { type: 'ordinal' }).select(n);
  const key = `rank.ordinal.${form}`;
  return t(key in CATALOGUES[current] ? key : 'rank.ordinal.other', { n });
}

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

import { CATALOGUES, format, LANGUAGES, ordinal, preferredLanguage, setLanguage } from '../src/i18n.js';

const placeholders = (msg) => {
  const texts = typeof msg === 'string' ? [msg] : Object.values(msg);
  return new Set(texts.flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1])));
};

test('every language has every message, with the same placeholders', () => {
  const keys = Object.keys(CATALOGUES.en).sort();
  for (const lang of LANGUAGES) {
    assert.deepEqual(Object.keys(CATALOGUES[lang]).sort(), keys, lang);
    for (const key of keys) {
      assert.deepEqual(placeholders(CATALOGUES[lang][key]), placeholders(CATALOGUES.en[key]), `${lang} ${key}`);
    }
  }
});

test("plural messages have every form the language's rules select", () => {
  for (const lang of LANGUAGES) {
    const categories = new Intl.PluralRules(lang).resolvedOptions().pluralCategories;
    for (const [key, msg] of Object.entries(CATALOGUES[lang])) {
      if (typeof msg === 'string') continue;
      for (const c of categories) assert.ok(typeof msg[c] === 'string', `${lang} ${key} lacks '${c}'`);
      assert.ok(placeholders(msg).has('n'), `${lang} ${key}: plural messages are chosen by {n}`);
    }
  }
  assert.equal(format(CATALOGUES.ru, 'ru', 'q.count.choice', { n: 1 }), 'Выбран 1 вариант.');
  assert.equal(format(CATALOGUES.ru, 'ru', 'q.count.choice', { n: 3 }), 'Выбрано 3 варианта.');
  assert.equal(format(CATALOGUES.ru, 'ru', 'q.count.choice', { n: 5 }), 'Выбрано 5 вариантов.');
  assert.equal(format(CATALOGUES.ru, 'ru', 'q.count.choice', { n: 21 }), 'Выбран 21 вариант.');
  assert.equal(format(CATALOGUES.en, 'en', 'review.points', { n: 1 }), '1 point');
});

test('every message the booth asks for exists', () => {
  // The booth's UI modules: every screen, the shell, and the tables and checks that name keys.
  const src = new URL('../src/', import.meta.url);
  const files = [
    ...readdirSync(src).filter((f) => f.endsWith('.js')),
    ...readdirSync(new URL('screens/', src)).map((f) => `screens/${f}`),
  ];
  const source = files.map((f) => readFileSync(new URL(f, src), 'utf8')).join('\n');
  const literal = [...source.matchAll(/\b(?:t|heading|button|submitButton)\('([a-z_.]+)'/g)].map((m) => m[1]);
  const keyed = [...source.matchAll(/key: '([a-z_.]+)'/g)].map((m) => m[1]);
  const failures = [...source.matchAll(/failure ?[:=] '([a-z_.]+)'|: '(check\.reason\.[a-z_]+)'|return '(check\.[a-z_.]+)'|= '(check\.reason\.[a-z_]+)'|: '(error\.[a-z_]+)'/g)]
    .map((m) => m[1] ?? m[2] ?? m[3] ?? m[4] ?? m[5]);
  const dynamic = [
    ...['setup', 'open', 'closed', 'tallied'].map((p) => `phase.${p}`),
    ...LANGUAGES.map((l) => `lang.${l}`),
    ...['choice', 'score'].flatMap((k) => [`q.count.${k}`, `q.error.too_many.${k}`, `q.error.too_few.${k}`]),
    ...['one', 'two', 'few', 'other'].map((form) => `rank.ordinal.${form}`),
  ];
  const wanted = new Set([...literal, ...keyed, ...failures, ...dynamic]);
  assert.ok(wanted.size > 60, `only ${wanted.size} keys found`);
  for (const key of wanted) assert.ok(key in CATALOGUES.en, `missing message ${key}`);
});

test('the starting language follows the browser, else English', () => {
  assert.equal(preferredLanguage(['ru-RU', 'en']), 'ru');
  assert.equal(preferredLanguage(['de-DE', 'en-GB']), 'en');
  assert.equal(preferredLanguage(['fr']), 'en');
  assert.equal(preferredLanguage(undefined), 'en');
});

test('review, audit and check are different words in every language', () => {
  for (const lang of LANGUAGES) {
    const c = CATALOGUES[lang];
    const review = c['ballot.review'];
    const audit = c['sealed.audit'];
    const check = c['check.submit'];
    assert.equal(new Set([review, audit, check, c['cast.check']]).size, 4, lang);
    // the word of "check" appears in neither the review nor the audit button
    const stem = check.slice(0, 6).toLowerCase();
    for (const other of [review, audit, c['review.heading'], c['audit.heading'], c['audit.download']]) {
      assert.ok(!other.toLowerCase().includes(stem), `${lang}: "${other}" uses the word of check`);
    }
  }
});

test('ranks read as ordinals in each language', () => {
  globalThis.document ??= { documentElement: {} };
  setLanguage('en');
  assert.deepEqual([1, 2, 3, 4, 11, 12, 13, 21, 22, 23].map(ordinal),
    ['1st', '2nd', '3rd', '4th', '11th', '12th', '13th', '21st', '22nd', '23rd']);
  setLanguage('ru');
  assert.deepEqual([1, 2, 3].map(ordinal), ['1-е', '2-е', '3-е']);
  setLanguage('en');
});

// The scheduled election's window in the booth: the strict time form (as evote.schedule),
// the manifest's canonical bytes with and without times, and the local display.

import assert from 'node:assert/strict';
import test from 'node:test';

import { Manifest } from '../src/manifest.js';
import { localTime, parseTime } from '../src/when.js';

const BASE = {
  election_id: 'sched', title: 'T', description: '', version: 1,
  questions: [{ id: 'q', title: 'Q', kind: 'choice', min: 1, max: 1, options: ['a', 'b'], max_score: 1 }],
};

test('times parse strictly, in UTC only', () => {
  assert.equal(parseTime('2026-12-14T08:00:00Z', 't'), Date.UTC(2026, 11, 14, 8));
  assert.equal(parseTime('2026-12-14T08:00:00.5Z', 't'), Date.UTC(2026, 11, 14, 8) + 500);
  for (const bad of ['2026-12-14T09:00:00+01:00', '2026-12-14T08:00:00', '2026-02-30T08:00:00Z',
    '2026-12-14 08:00:00Z', 1797235200, '1999-12-31T23:59:59Z']) {
    assert.throws(() => parseTime(bad, 'manifest.opens_at'), { code: 'bad_manifest' }, String(bad));
  }
});

test('a manifest keeps its times in its canonical form, and old ones are unchanged', () => {
  const timed = Manifest.fromJson({ ...BASE, opens_at: '2026-12-14T08:00:00Z', closes_at: '2026-12-14T20:00:00Z' });
  assert.equal(timed.opensAt, '2026-12-14T08:00:00Z');
  assert.deepEqual(timed.toJson(), { ...BASE, opens_at: '2026-12-14T08:00:00Z', closes_at: '2026-12-14T20:00:00Z' });
  assert.deepEqual(Manifest.fromJson(BASE).toJson(), BASE);
  assert.throws(() => Manifest.fromJson({ ...BASE, opens_at: '2026-12-14T08:00:00Z', closes_at: '2026-12-14T08:00:00Z' }),
    { code: 'bad_manifest' });
});

test('the time is shown in the voter language and zone', () => {
  const en = localTime('2026-12-14T08:00:00Z', 'en', 'UTC');
  const ru = localTime('2026-12-14T08:00:00Z', 'ru', 'Europe/Moscow');
  assert.match(en, /December 14, 2026/);
  assert.match(en, /8:00/);
  assert.match(ru, /14 декабря 2026/);
  assert.match(ru, /11:00/); // Moscow is UTC+3
});

// The voting window of a scheduled election (manifest opens_at / closes_at): the
// strict RFC 3339 UTC form evote.schedule accepts, and the time shown to the
// voter in their language and their own time zone (the manifest holds UTC only,
// so that one instant has one spelling in the hashed manifest).

import { ManifestError } from './errors.js';

const RFC3339_UTC = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/;

/** Milliseconds since the epoch of `value`, or ManifestError naming `path`. */
export function parseTime(value, path) {
  const m = typeof value === 'string' ? RFC3339_UTC.exec(value) : null;
  if (!m) throw new ManifestError(`${path}: not an RFC 3339 UTC time such as "2026-12-14T08:00:00Z"`);
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number);
  const ms = Date.UTC(y, mo - 1, d, h, mi, s) + Number((m[7] ?? '0').padEnd(3, '0'));
  const back = new Date(ms);
  if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59 || y < 2000) {
    throw new ManifestError(`${path}: ${value} is not a real time`);
  }
  return ms;
}

/** The manifest's window, checked as evote.manifest checks it. */
export function checkWindow(opensAt, closesAt, path = 'manifest') {
  const opens = opensAt === null ? null : parseTime(opensAt, `${path}.opens_at`);
  const closes = closesAt === null ? null : parseTime(closesAt, `${path}.closes_at`);
  if (opens !== null && closes !== null && closes <= opens) {
    throw new ManifestError(`${path}.closes_at: must be after opens_at`);
  }
}

/** `iso` (a manifest time) as the voter reads it: date and time in `lang`, local zone. */
export function localTime(iso, lang, timeZone = undefined) {
  return new Intl.DateTimeFormat(lang, { dateStyle: 'full', timeStyle: 'short', timeZone })
    .format(new Date(parseTime(iso, 'time')));
}

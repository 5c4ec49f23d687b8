// The election manifest as the booth reads it (mirrors evote/manifest.py):
// parsed strictly, normalised exactly as Manifest.to_json() writes it, so
// that the booth computes the same digest as the server and the verifier.
// The booth does not trust the server's digest; it recomputes it.

import { canonicalJson, Fields } from './encoding.js';
import { EvoteError, ManifestError, SchemaError } from './errors.js';
import { taggedHash, TAG_MANIFEST } from './hashing.js';
import { MAX_RANGE_WIDTH } from './proofs.js';
import { verifyKeyFromJson } from './signing.js';
import { witnessPolicyFromJson, witnessPolicyToJson } from './witness.js';
import { checkWindow } from './when.js';

export const MANIFEST_VERSION = 1;
const MIN_OPTIONS = 2;
const MAX_OPTIONS = 64;
const MAX_QUESTIONS = 50;
const MAX_SCORE = 100;
const MAX_BALLOT_BRANCHES = 10000;
const MAX_OPTION = 500;
// Ranked and graded questions (evote/limits.py, issue 16).
export const KINDS = Object.freeze(['choice', 'score', 'ranked', 'grades']);
export const MIXED_KINDS = Object.freeze(['ranked', 'grades']);
export const RANKED_METHODS = Object.freeze(['irv', 'stv', 'schulze', 'borda']);
export const GRADES_METHOD = 'majority_judgment';
export const GRADE_LANGUAGES = Object.freeze(['en', 'ru']);
const MAX_RANKED_OPTIONS = 32;
const MIN_GRADES = 2;
const MAX_GRADES = 20;
const MAX_MIXERS = 64;
const QUESTION_ID = /^[a-z0-9_-]{1,64}$/;
const LANG = /^[a-z]{2}$/;
const ELECTION_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Text in `lang`, falling back to English, then the first tag in sorted order. */
export function textIn(text, lang = null) {
  if (typeof text === 'string') return text;
  if (lang !== null && Object.hasOwn(text, lang)) return text[lang];
  if (Object.hasOwn(text, 'en')) return text.en;
  return text[Object.keys(text).sort()[0]];
}

function checkText(value, path, maxLen, allowEmpty = false) {
  const one = (s, where) => {
    if (typeof s !== 'string') throw new ManifestError(`${where}: expected a string`);
    if (!allowEmpty && !s.trim()) throw new ManifestError(`${where}: must not be empty`);
    if (s.length > maxLen) throw new ManifestError(`${where}: longer than ${maxLen} characters`);
    return s;
  };
  if (typeof value === 'string') return one(value, path);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ManifestError(`${path}: expected a string or an object of translations`);
  }
  const langs = Object.keys(value);
  if (!langs.length) throw new ManifestError(`${path}: translations must name at least one language`);
  for (const lang of langs) {
    if (!LANG.test(lang)) throw new ManifestError(`${path}: language tag '${lang}' is not two lowercase letters`);
    one(value[lang], `${path}.${lang}`);
  }
  return Object.freeze({ ...value });
}

function checkId(id, path) {
  if (typeof id !== 'string' || !QUESTION_ID.test(id)) {
    throw new ManifestError(`${path}.id: must be 1 to 64 characters of a-z, 0-9, '_' and '-'`);
  }
  return id;
}

function checkInt(value, path) {
  if (!Number.isSafeInteger(value)) throw new ManifestError(`${path}: expected an integer`);
  return value;
}

function manifestFields(obj, path, keys) {
  try {
    return new Fields(obj, path, keys);
  } catch (exc) {
    if (exc instanceof SchemaError) throw new ManifestError(exc.message);
    throw exc;
  }
}

/** Labels that differ only in case or spacing would confuse a voter (as evote.manifest._same_label). */
const sameLabel = (s) => s.split(/\s+/).filter(Boolean).join(' ').toLowerCase();

function checkOptions(raw, path, max) {
  if (!Array.isArray(raw)) throw new ManifestError(`${path}: expected a list`);
  if (raw.length < MIN_OPTIONS || raw.length > max) {
    throw new ManifestError(`${path}: expected between ${MIN_OPTIONS} and ${max} options`);
  }
  return Object.freeze(raw.map((o, i) => checkText(o, `${path}[${i}]`, MAX_OPTION)));
}

/** The grade names of a graded question, worst first, each in English and Russian. */
function checkGrades(raw, path) {
  if (!Array.isArray(raw)) throw new ManifestError(`${path}: expected a list of grade names, worst first`);
  if (raw.length < MIN_GRADES || raw.length > MAX_GRADES) {
    throw new ManifestError(`${path}: expected between ${MIN_GRADES} and ${MAX_GRADES} grades`);
  }
  const grades = raw.map((g, i) => {
    const name = checkText(g, `${path}[${i}]`, MAX_OPTION);
    if (typeof name === 'string') throw new ManifestError(`${path}[${i}]: a grade name must be given in en and ru`);
    const missing = GRADE_LANGUAGES.filter((lang) => !Object.hasOwn(name, lang));
    if (missing.length) throw new ManifestError(`${path}[${i}]: missing the grade name in ${missing.join(', ')}`);
    return name;
  });
  for (const lang of GRADE_LANGUAGES) {
    const seen = new Set();
    grades.forEach((g, i) => {
      const key = sameLabel(g[lang]);
      if (seen.has(key)) throw new ManifestError(`${path}[${i}]: duplicate grade '${g[lang]}'`);
      seen.add(key);
    });
  }
  return Object.freeze(grades);
}

export class Question {
  /**
   * `method`: irv|stv|schulze|borda (ranked), majority_judgment (grades), else
   * null; `seats`: STV only; `grades`: the grade names, worst first (grades
   * only).  A ranked or graded question's min/max/maxScore are derived as
   * evote.manifest does: each option proves 0..top, any total, no sum proof.
   */
  constructor({ id, title, options, kind, min, max, maxScore, method = null, seats = null, grades = Object.freeze([]) }) {
    Object.assign(this, { id, title, options, kind, min, max, maxScore, method, seats, grades });
    Object.freeze(this);
  }

  static fromJson(obj, path) {
    const kind = obj !== null && typeof obj === 'object' ? obj.kind : undefined;
    if (MIXED_KINDS.includes(kind)) return Question.mixedFromJson(obj, path, kind);
    const f = manifestFields(obj, path, {
      required: ['id', 'title', 'options', 'kind', 'min', 'max'],
      optional: ['max_score'],
    });
    const id = checkId(f.raw('id'), path);
    const title = checkText(f.raw('title'), `${path}.title`, 1000);
    const options = checkOptions(f.raw('options'), `${path}.options`, MAX_OPTIONS);
    if (kind !== 'choice' && kind !== 'score') {
      throw new ManifestError(`${path}.kind: must be "choice", "score", "ranked" or "grades"`);
    }
    if (kind === 'score' && !f.has('max_score')) throw new ManifestError(`${path}: missing field 'max_score'`);
    const maxScore = checkInt(f.raw('max_score', 1), `${path}.max_score`);
    const n = options.length;
    let top;
    if (kind === 'choice') {
      if (maxScore !== 1) throw new ManifestError(`${path}.max_score: must be 1 for a choice question`);
      top = n;
    } else {
      if (maxScore < 1 || maxScore > MAX_SCORE) throw new ManifestError(`${path}.max_score: must be between 1 and ${MAX_SCORE}`);
      top = maxScore * n;
    }
    const max = checkInt(f.raw('max'), `${path}.max`);
    if (max < 1 || max > top) throw new ManifestError(`${path}.max: must be between 1 and ${top}`);
    const min = checkInt(f.raw('min'), `${path}.min`);
    if (min < 0 || min > max) throw new ManifestError(`${path}.min: must be between 0 and ${max}`);
    if (!(min === 0 && max === top) && max - min + 1 > MAX_RANGE_WIDTH) {
      throw new ManifestError(`${path}.min: the allowed total spans more than ${MAX_RANGE_WIDTH} values`);
    }
    return new Question({ id, title, options, kind, min, max, maxScore });
  }

  /** A ranked (method, seats) or graded (grades, method) question: exactly Python's key sets. */
  static mixedFromJson(obj, path, kind) {
    const ranked = kind === 'ranked';
    const f = manifestFields(obj, path, {
      required: ['id', 'title', 'options', 'kind', ranked ? 'method' : 'grades'],
      optional: ranked ? ['seats'] : ['method'],
    });
    const id = checkId(f.raw('id'), path);
    const title = checkText(f.raw('title'), `${path}.title`, 1000);
    const options = checkOptions(f.raw('options'), `${path}.options`, MAX_OPTIONS);
    const n = options.length;
    let method;
    let seats = null;
    let grades = Object.freeze([]);
    let top;
    if (ranked) {
      method = f.raw('method');
      if (!RANKED_METHODS.includes(method)) {
        throw new ManifestError(`${path}.method: must be one of ${RANKED_METHODS.join(', ')}`);
      }
      if (n > MAX_RANKED_OPTIONS) {
        throw new ManifestError(`${path}.options: a ranked question may have at most ${MAX_RANKED_OPTIONS} options`);
      }
      if (method === 'stv') {
        if (!f.has('seats')) throw new ManifestError(`${path}.seats: required for method stv`);
        seats = checkInt(f.raw('seats'), `${path}.seats`);
        if (seats < 1 || seats >= n) throw new ManifestError(`${path}.seats: must be between 1 and ${n - 1} (fewer than the options)`);
      } else if (f.has('seats') && f.raw('seats') !== null) {
        throw new ManifestError(`${path}.seats: only for method stv`);
      }
      top = n;
    } else {
      if (f.has('method') && f.raw('method') !== null && f.raw('method') !== GRADES_METHOD) {
        throw new ManifestError(`${path}.method: a grades question is counted by "${GRADES_METHOD}"`);
      }
      method = GRADES_METHOD;
      grades = checkGrades(f.raw('grades'), `${path}.grades`);
      top = grades.length - 1;
    }
    return new Question({ id, title, options, kind, min: 0, max: top * n, maxScore: top, method, seats, grades });
  }

  /** Counted after the mixnet (ranked or grades), never in the homomorphic tally. */
  get isMixed() {
    return MIXED_KINDS.includes(this.kind);
  }

  gradeLabel(grade, lang) {
    return textIn(this.grades[grade], lang);
  }

  /** False when the per-option ranges already imply the total's range. */
  get needsSumProof() {
    return !(this.min === 0 && this.max === this.maxScore * this.options.length);
  }

  get optionRange() {
    return [0, this.maxScore];
  }

  get sumRange() {
    return [this.min, this.max];
  }

  get proofBranches() {
    const perOption = this.options.length * (this.maxScore + 1);
    return perOption + (this.needsSumProof ? this.max - this.min + 1 : 0);
  }

  label(lang) {
    return textIn(this.title, lang);
  }

  optionLabel(i, lang) {
    return textIn(this.options[i], lang);
  }

  /** As evote.manifest.Question.to_json: every field of the kind, always (one spelling). */
  toJson() {
    const head = { id: this.id, title: this.title, options: [...this.options], kind: this.kind };
    if (this.kind === 'ranked') {
      return { ...head, method: this.method, ...(this.seats === null ? {} : { seats: this.seats }) };
    }
    if (this.kind === 'grades') return { ...head, grades: this.grades.map((g) => ({ ...g })) };
    return {
      id: this.id,
      title: this.title,
      options: [...this.options],
      kind: this.kind,
      min: this.min,
      max: this.max,
      max_score: this.maxScore,
    };
  }
}

/** The manifest's mixer list (evote.mixnet.check_mixers): numbered 1..M in order, distinct keys. */
function mixersFromJson(raw, path, questions) {
  if (!questions.some((q) => q.isMixed)) {
    throw new ManifestError(`${path}: only for an election with a ranked or grades question`);
  }
  if (!Array.isArray(raw)) throw new ManifestError(`${path}: expected a list`);
  if (raw.length < 1 || raw.length > MAX_MIXERS) throw new ManifestError(`${path}: an election needs 1..${MAX_MIXERS} mixers`);
  const seen = new Set();
  return Object.freeze(raw.map((m, i) => {
    const f = manifestFields(m, `${path}[${i}]`, { required: ['index', 'verify_key'] });
    const index = checkInt(f.raw('index'), `${path}[${i}].index`);
    if (index !== i + 1) throw new ManifestError(`${path}: mixers must be numbered 1..${raw.length} in order; found ${index} at ${i + 1}`);
    const verifyKeyJson = f.raw('verify_key');
    let verifyKey;
    try {
      verifyKey = verifyKeyFromJson(verifyKeyJson, `${path}[${i}].verify_key`);
    } catch (exc) {
      if (exc instanceof EvoteError) throw new ManifestError(exc.message);
      throw exc;
    }
    if (seen.has(verifyKeyJson)) throw new ManifestError(`${path}: two mixers share a key`);
    seen.add(verifyKeyJson);
    return Object.freeze({ index, verifyKey, verifyKeyJson });
  }));
}

export class Manifest {
  /**
   * `witnesses`: the optional k-of-n witness policy (witness.js), or null;
   * `mixers`: the manifest's mixers of the ranked and graded questions
   * ([{index, verifyKey}] in mixing order), or null (the trustees mix);
   * `opensAt`/`closesAt`: the voting window of a scheduled election (when.js), or null.
   */
  constructor({ electionId, title, questions, description, version, witnesses = null, mixers = null, opensAt = null, closesAt = null }) {
    Object.assign(this, { electionId, title, questions, description, version, witnesses, mixers, opensAt, closesAt });
    Object.freeze(this);
  }

  static fromJson(obj) {
    const path = 'manifest';
    let f;
    try {
      f = new Fields(obj, path, {
        required: ['election_id', 'title', 'questions'],
        optional: ['description', 'version', 'witnesses', 'mixers', 'opens_at', 'closes_at'],
      });
    } catch (exc) {
      if (exc instanceof SchemaError) throw new ManifestError(exc.message);
      throw exc;
    }
    const electionId = f.raw('election_id');
    if (typeof electionId !== 'string' || !ELECTION_ID.test(electionId)) {
      throw new ManifestError(`${path}.election_id: only a-z, 0-9, '-' and '_' (not first), 1 to 64 characters`);
    }
    const title = checkText(f.raw('title'), `${path}.title`, 500);
    const description = checkText(f.raw('description', ''), `${path}.description`, 20000, true);
    const version = checkInt(f.raw('version', MANIFEST_VERSION), `${path}.version`);
    if (version !== MANIFEST_VERSION) throw new ManifestError(`${path}.version: must be ${MANIFEST_VERSION}`);
    const raw = f.raw('questions');
    if (!Array.isArray(raw) || raw.length < 1 || raw.length > MAX_QUESTIONS) {
      throw new ManifestError(`${path}.questions: expected between 1 and ${MAX_QUESTIONS} questions`);
    }
    const questions = Object.freeze(raw.map((q, i) => Question.fromJson(q, `${path}.questions[${i}]`)));
    const ids = new Set();
    for (const [i, q] of questions.entries()) {
      if (ids.has(q.id)) throw new ManifestError(`${path}.questions[${i}].id: duplicate question id '${q.id}'`);
      ids.add(q.id);
    }
    const branches = questions.reduce((n, q) => n + q.proofBranches, 0);
    if (branches > MAX_BALLOT_BRANCHES) {
      throw new ManifestError(`${path}.questions: a ballot would carry ${branches} proof branches`);
    }
    const witnesses = f.has('witnesses') ? witnessPolicyFromJson(f.raw('witnesses'), `${path}.witnesses`) : null;
    const mixers = f.has('mixers') ? mixersFromJson(f.raw('mixers'), `${path}.mixers`, questions) : null;
    const opensAt = f.raw('opens_at', null);
    const closesAt = f.raw('closes_at', null);
    checkWindow(opensAt, closesAt, path); // a scheduled election (when.js)
    return new Manifest({ electionId, title, questions, description, version, witnesses, mixers, opensAt, closesAt });
  }

  /** As evote.manifest.Manifest.to_json: `witnesses` only when there is a policy (old digests stay). */
  toJson() {
    const out = {
      version: this.version,
      election_id: this.electionId,
      title: this.title,
      description: this.description,
      questions: this.questions.map((q) => q.toJson()),
    };
    if (this.witnesses !== null) out.witnesses = witnessPolicyToJson(this.witnesses);
    if (this.mixers !== null) out.mixers = this.mixers.map((m) => ({ index: m.index, verify_key: m.verifyKeyJson }));
    if (this.opensAt !== null) out.opens_at = this.opensAt;
    if (this.closesAt !== null) out.closes_at = this.closesAt;
    return out;
  }

  /** RFC 8785 bytes of toJson(): what is published and hashed. */
  canonical() {
    return canonicalJson(this.toJson());
  }

  /** tagged_hash("manifest", canonical()). */
  digest() {
    return taggedHash(TAG_MANIFEST, this.canonical());
  }

  label(lang) {
    return textIn(this.title, lang);
  }

  descriptionIn(lang) {
    return textIn(this.description, lang);
  }
}

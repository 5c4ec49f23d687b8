// The election manifest as the booth reads it (mirrors evote/manifest.py):
// parsed strictly, normalised exactly as Manifest.to_json() writes it, so
// that the booth computes the same digest as the server and the verifier.
// The booth does not trust the server's digest; it recomputes it.

import { canonicalJson, Fields } from './encoding.js';
import { ManifestError, SchemaError } from './errors.js';
import { taggedHash, TAG_MANIFEST } from './hashing.js';
import { MAX_RANGE_WIDTH } from './proofs.js';
import { witnessPolicyFromJson, witnessPolicyToJson } from './witness.js';
import { checkWindow } from './when.js';

export const MANIFEST_VERSION = 1;
const MIN_OPTIONS = 2;
const MAX_OPTIONS = 64;
const MAX_QUESTIONS = 50;
const MAX_SCORE = 100;
const MAX_BALLOT_BRANCHES = 10000;
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

function checkInt(value, path) {
  if (!Number.isSafeInteger(value)) throw new ManifestError(`${path}: expected an integer`);
  return value;
}

export class Question {
  constructor({ id, title, options, kind, min, max, maxScore }) {
    Object.assign(this, { id, title, options, kind, min, max, maxScore });
    Object.freeze(this);
  }

  static fromJson(obj, path) {
    let f;
    try {
      f = new Fields(obj, path, {
        required: ['id', 'title', 'options', 'kind', 'min', 'max'],
        optional: ['max_score'],
      });
    } catch (exc) {
      if (exc instanceof SchemaError) throw new ManifestError(exc.message);
      throw exc;
    }
    const id = f.raw('id');
    if (typeof id !== 'string' || !QUESTION_ID.test(id)) {
      throw new ManifestError(`${path}.id: must be 1 to 64 characters of a-z, 0-9, '_' and '-'`);
    }
    const title = checkText(f.raw('title'), `${path}.title`, 1000);
    const rawOptions = f.raw('options');
    if (!Array.isArray(rawOptions)) throw new ManifestError(`${path}.options: expected a list`);
    if (rawOptions.length < MIN_OPTIONS || rawOptions.length > MAX_OPTIONS) {
      throw new ManifestError(`${path}.options: expected between ${MIN_OPTIONS} and ${MAX_OPTIONS} options`);
    }
    const options = Object.freeze(rawOptions.map((o, i) => checkText(o, `${path}.options[${i}]`, 500)));
    const kind = f.raw('kind');
    if (kind !== 'choice' && kind !== 'score') throw new ManifestError(`${path}.kind: must be "choice" or "score"`);
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

  toJson() {
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

export class Manifest {
  /** `witnesses`: the optional k-of-n witness policy (witness.js), or null. */
  constructor({ electionId, title, questions, description, version, witnesses = null, opensAt = null, closesAt = null }) {
    Object.assign(this, { electionId, title, questions, description, version, witnesses, opensAt, closesAt });
    Object.freeze(this);
  }

  static fromJson(obj) {
    const path = 'manifest';
    let f;
    try {
      f = new Fields(obj, path, {
        required: ['election_id', 'title', 'questions'],
        optional: ['description', 'version', 'witnesses', 'opens_at', 'closes_at'],
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
    const opensAt = f.raw('opens_at', null);
    const closesAt = f.raw('closes_at', null);
    checkWindow(opensAt, closesAt, path); // a scheduled election (when.js)
    return new Manifest({ electionId, title, questions, description, version, witnesses, opensAt, closesAt });
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

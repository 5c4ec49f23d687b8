// The one way the booth turns values into bytes and back (mirrors
// evote/encoding.py): strict unpadded base64url, RFC 8785 canonical JSON,
// UTF-8, hex and byte helpers.  Decoding is strict so that every value has
// exactly one accepted spelling, as on the server.

import { EncodingError, SchemaError } from './errors.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64_INDEX = new Map([...B64].map((c, i) => [c, i]));

export const MAX_SAFE_INTEGER = Number.MAX_SAFE_INTEGER;

/** Unpadded base64url (RFC 4648 §5 without '='). */
export function b64encode(bytes) {
  let out = '';
  let i = 0;
  for (; i + 3 <= bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63] + B64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += B64[n >> 18] + B64[(n >> 12) & 63];
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[n >> 18] + B64[(n >> 12) & 63] + B64[(n >> 6) & 63];
  }
  return out;
}

/**
 * Strict unpadded base64url decoding; `length` pins the decoded size.
 * Rejects non-strings, padding, foreign characters, impossible lengths and
 * non-zero spare bits (a second spelling of the same bytes).
 */
export function b64decode(text, { length = null, what = 'value' } = {}) {
  if (typeof text !== 'string') throw new EncodingError(`${what}: expected a base64url string`);
  if (length !== null && text.length !== Math.ceil((length * 4) / 3)) {
    throw new EncodingError(`${what}: expected ${length} bytes of base64url`);
  }
  if (text.length % 4 === 1) throw new EncodingError(`${what}: not base64url`);
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let j = 0;
  for (const ch of text) {
    const v = B64_INDEX.get(ch);
    if (v === undefined) throw new EncodingError(`${what}: not base64url`);
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[j++] = (acc >> bits) & 0xff;
      acc &= (1 << bits) - 1;
    }
  }
  if (acc !== 0) throw new EncodingError(`${what}: non-canonical base64url`);
  return out;
}

export function hexToBytes(hex) {
  if (typeof hex !== 'string' || hex.length % 2 || !/^[0-9a-fA-F]*$/.test(hex)) {
    throw new EncodingError('not a hex string');
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes) {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Lexicographic byte order (the order of Python's bytes comparison). */
export function compareBytes(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export const utf8 = (s) => utf8Encoder.encode(s);

export function fromUtf8(bytes) {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    throw new EncodingError('document is not valid UTF-8');
  }
}

/**
 * RFC 8785 (JSON Canonicalization Scheme).  JCS is defined in terms of
 * ECMAScript's own number and string serialisation, so JSON.stringify gives
 * the leaves; objects get their keys sorted by UTF-16 code units, which is
 * what Array.prototype.sort does with no comparator.  Only integers in
 * [−(2^53 − 1), 2^53 − 1] are accepted, as on the server.
 */
export function canonicalJson(value) {
  return utf8(canonicalText(value));
}

function canonicalText(value) {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') {
    return JSON.stringify(value);
  }
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) {
      throw new EncodingError('value cannot be canonicalised: numbers must be safe integers');
    }
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`;
  if (typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalText(value[k])}`).join(',')}}`;
  }
  throw new EncodingError(`value cannot be canonicalised: ${typeof value}`);
}

/**
 * Strict JSON parsing: duplicate keys are rejected (two parsers may keep
 * different copies), as evote.encoding.parse_json does.  JSON.parse already
 * rejects NaN/Infinity.
 */
export function parseJson(text) {
  if (text instanceof Uint8Array) text = fromUtf8(text);
  let value;
  try {
    value = JSON.parse(text);
  } catch (exc) {
    throw new EncodingError(`malformed JSON: ${exc.message}`);
  }
  checkNoDuplicateKeys(text);
  return value;
}

// JSON.parse keeps the last of duplicate keys silently; a small scanner over
// the already-valid text finds them.
function checkNoDuplicateKeys(text) {
  const stack = [];
  let i = 0;
  let expectKey = false;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top instanceof Set && expectKey) {
        const key = JSON.parse(text.slice(i, j + 1));
        if (top.has(key)) throw new EncodingError(`duplicate key ${JSON.stringify(key)} in JSON object`);
        top.add(key);
        expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (ch === '{') {
      stack.push(new Set());
      expectKey = true;
    } else if (ch === '[') {
      stack.push(null);
    } else if (ch === '}' || ch === ']') {
      stack.pop();
    } else if (ch === ',') {
      expectKey = stack[stack.length - 1] instanceof Set;
    }
    i += 1;
  }
}

/**
 * A strict reader over one decoded JSON object (evote.encoding.Fields):
 * exact key sets, typed getters, messages naming the path.
 */
export class Fields {
  constructor(obj, path, { required, optional = [] }) {
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
      throw new SchemaError(`${path}: expected an object`);
    }
    const allowed = new Set([...required, ...optional]);
    const missing = required.filter((k) => !Object.hasOwn(obj, k)).sort();
    if (missing.length) throw new SchemaError(`${path}: missing field '${missing[0]}'`);
    const extra = Object.keys(obj).filter((k) => !allowed.has(k)).sort();
    if (extra.length) throw new SchemaError(`${path}: unknown field '${extra[0]}'`);
    this.obj = obj;
    this.path = path;
  }

  has(key) {
    return Object.hasOwn(this.obj, key);
  }

  sub(key) {
    return `${this.path}.${key}`;
  }

  raw(key, fallback = undefined) {
    return this.has(key) ? this.obj[key] : fallback;
  }

  str(key, { maxLen = 10000, allowEmpty = false } = {}) {
    const v = this.obj[key];
    if (typeof v !== 'string') throw new SchemaError(`${this.sub(key)}: expected a string`);
    if (!allowEmpty && !v) throw new SchemaError(`${this.sub(key)}: must not be empty`);
    if (v.length > maxLen) throw new SchemaError(`${this.sub(key)}: longer than ${maxLen} characters`);
    return v;
  }

  int(key, { lo = 0, hi = MAX_SAFE_INTEGER } = {}) {
    const v = this.obj[key];
    if (!Number.isInteger(v)) throw new SchemaError(`${this.sub(key)}: expected an integer`);
    if (v < lo || v > hi) throw new SchemaError(`${this.sub(key)}: must be between ${lo} and ${hi}`);
    return v;
  }

  bytes(key, { length = null } = {}) {
    return b64decode(this.obj[key], { length, what: this.sub(key) });
  }

  list(key, item, { minLen = 0, maxLen = 100000 } = {}) {
    const v = this.obj[key];
    if (!Array.isArray(v)) throw new SchemaError(`${this.sub(key)}: expected a list`);
    if (v.length < minLen || v.length > maxLen) {
      throw new SchemaError(`${this.sub(key)}: expected between ${minLen} and ${maxLen} items`);
    }
    return v.map((x, i) => item(x, `${this.sub(key)}[${i}]`));
  }
}

export function expectList(value, path, length = null) {
  if (!Array.isArray(value)) throw new SchemaError(`${path}: expected a list`);
  if (length !== null && value.length !== length) {
    throw new SchemaError(`${path}: expected ${length} items, got ${value.length}`);
  }
  return value;
}

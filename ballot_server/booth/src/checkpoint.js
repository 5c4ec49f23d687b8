// C2SP signed notes, checkpoints and Ed25519 witness cosignatures, as the
// booth reads them (mirrors evote/checkpoint.py; formats in docs/witness.md §2):
//
//   note        = text "\n" ("— " name " " base64(key ID || signature) "\n")+
//   key ID      = SHA-256(name || 0x0A || type || 32-byte Ed25519 key)[:4]
//   checkpoint  = origin "\n" size "\n" base64(root) "\n" (extension "\n")*
//   origin      = "evote/" b64url(board key) "/" election id
//   type 0x01   Ed25519 over the note text (the board, key name = origin)
//   type 0x04   cosignature/v1: 8-byte big-endian time || Ed25519 over
//               "cosignature/v1\ntime <time>\n" || note text (a witness)
//
// Unlike the rest of evote these formats use *standard, padded* base64, as
// the specifications do; decoding is strict (one spelling per value).
// Parsing checks formats only; which signature lines count is for the caller
// to decide with the keys it trusts (a line naming an unknown key is ignored,
// a line naming a trusted key must verify).

import { sha256 } from '@noble/hashes/sha2.js';

import { b64encode, bytesEqual, concatBytes, utf8 } from './encoding.js';
import { EncodingError, InvalidSignature, SchemaError } from './errors.js';
import { HASH_SIZE } from './merkle.js';
import { ed25519Verifies } from './signing.js';

export const SIG_ED25519 = 0x01;
export const SIG_COSIGNATURE_V1 = 0x04;
const SIGNATURE_PREFIX = '\u2014 ';
const KEY_ID_BYTES = 4;
const TIMESTAMP_BYTES = 8;
const SIGNATURE_BYTES = 64;
const MAX_NOTE_BYTES = 1 << 16;
const MAX_SIGNATURES = 100;
const MAX_NAME = 256;
const MAX_TIMESTAMP = (1n << 63n) - 1n;
const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// Exactly the characters Python's str.isspace() accepts (evote/checkpoint.py
// uses it): a key name must contain none of them.
const SPACE = /[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/u;

function stdB64decode(text, what) {
  if (typeof text !== 'string' || !STD_B64.test(text)) throw new EncodingError(`${what}: not standard base64`);
  const bin = atob(text);
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  if (btoa(bin) !== text) throw new EncodingError(`${what}: non-canonical base64`);
  return out;
}

/** A key name: non-empty, at most 256 characters, no space, control character or '+'. */
export function checkKeyName(name, what = 'key name') {
  if (typeof name !== 'string' || !name) throw new EncodingError(`${what}: must be a non-empty string`);
  if ([...name].length > MAX_NAME) throw new EncodingError(`${what}: longer than ${MAX_NAME} characters`);
  if (name.includes('+') || SPACE.test(name) || /[\x00-\x1f]/.test(name)) {
    throw new EncodingError(`${what}: contains a space, a control character or '+'`);
  }
  return name;
}

export function keyId(name, sigType, publicKey) {
  checkKeyName(name);
  return sha256(concatBytes(utf8(name), Uint8Array.of(0x0a, sigType), publicKey)).slice(0, KEY_ID_BYTES);
}

function checkText(text, what) {
  if (typeof text !== 'string' || !text.endsWith('\n')) throw new EncodingError(`${what}: must end with a newline`);
  if (/[\x00-\x09\x0b-\x1f]/.test(text)) throw new EncodingError(`${what}: control character`);
  if (/[\uD800-\uDFFF]/u.test(text)) throw new EncodingError(`${what}: not valid UTF-8 (lone surrogate)`);
  return text;
}

function parseSignatureLine(line) {
  if (!line.startsWith(SIGNATURE_PREFIX)) {
    throw new EncodingError('note signature line must start with an em dash and a space');
  }
  const rest = line.slice(SIGNATURE_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw new EncodingError("note signature line: expected '<name> <signature>'");
  const name = checkKeyName(rest.slice(0, space), 'note signature key name');
  const raw = stdB64decode(rest.slice(space + 1), `signature of ${name}`);
  if (raw.length <= KEY_ID_BYTES) throw new EncodingError(`signature of ${name}: shorter than a key ID and a signature`);
  return { name, keyId: raw.slice(0, KEY_ID_BYTES), signature: raw.slice(KEY_ID_BYTES) };
}

/** Parse a signed note strictly (evote.checkpoint.Note.parse): {text, signatures}. */
export function parseNote(data) {
  if (typeof data !== 'string') throw new EncodingError('note: expected text');
  if (utf8(data).length > MAX_NOTE_BYTES) throw new EncodingError(`note is larger than ${MAX_NOTE_BYTES} bytes`);
  const split = data.lastIndexOf('\n\n');
  if (split < 0) throw new EncodingError('note has no blank line before its signatures');
  const text = data.slice(0, split + 1);
  const block = data.slice(split + 2);
  if (!block.endsWith('\n')) throw new EncodingError('note must end with a signature line and a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw new EncodingError(`a note may carry at most ${MAX_SIGNATURES} signatures`);
  checkText(text, 'note text');
  if (/[\x00-\x1f]/.test(block.replaceAll('\n', ''))) throw new EncodingError('note signatures contain a control character');
  return { text, signatures: lines.map(parseSignatureLine) };
}

function parseDecimal(text, what) {
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new EncodingError(`${what}: expected a decimal number without leading zeros`);
  const value = BigInt(text);
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new EncodingError(`${what}: too large`);
  return Number(value);
}

/** Parse checkpoint note text (evote.checkpoint.Checkpoint.parse): {origin, size, root}. */
export function parseCheckpoint(text) {
  checkText(text, 'checkpoint');
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw new EncodingError('checkpoint: expected origin, size and root lines');
  const [origin, size, root, ...extensions] = lines;
  if (!origin) throw new EncodingError('checkpoint: empty origin line');
  if (extensions.some((e) => !e)) throw new EncodingError('checkpoint: empty extension line');
  const rootBytes = stdB64decode(root, 'checkpoint root');
  if (rootBytes.length !== HASH_SIZE) throw new EncodingError(`checkpoint root: expected ${HASH_SIZE} bytes`);
  return { origin, size: parseDecimal(size, 'checkpoint size'), root: rootBytes };
}

/** The origin of an election's board: "evote/<b64url board key>/<election id>". */
export function electionOrigin(boardKey, election) {
  if (typeof election !== 'string' || !election || election.includes('/')) {
    throw new EncodingError('election id cannot be used in a checkpoint origin');
  }
  return checkKeyName(`evote/${b64encode(boardKey)}/${election}`, 'checkpoint origin');
}

/** The signature lines that name (name, type, key): only those are checked. */
export function signaturesBy(note, name, sigType, publicKey) {
  const id = keyId(name, sigType, publicKey);
  return note.signatures.filter((s) => s.name === name && bytesEqual(s.keyId, id));
}

function verifyRaw(publicKey, message, signature, who) {
  if (!ed25519Verifies(publicKey, message, signature)) {
    throw new InvalidSignature(`note signature of ${who} does not verify`);
  }
}

/**
 * evote.checkpoint.open_checkpoint: parse a checkpoint note and check the
 * board's signature (key name = origin, type 0x01); the origin must be the
 * election's.  Returns {checkpoint, note}.
 */
export function openCheckpoint(noteText, boardKey, election) {
  const note = parseNote(noteText);
  const checkpoint = parseCheckpoint(note.text);
  checkKeyName(checkpoint.origin, 'checkpoint origin');
  const lines = signaturesBy(note, checkpoint.origin, SIG_ED25519, boardKey);
  if (!lines.length) throw new InvalidSignature(`note is not signed by ${checkpoint.origin}`);
  for (const sig of lines) verifyRaw(boardKey, utf8(note.text), sig.signature, checkpoint.origin);
  if (checkpoint.origin !== electionOrigin(boardKey, election)) {
    throw new SchemaError(`checkpoint origin is not the origin of election ${election}`);
  }
  return { checkpoint, note };
}

/** Check one cosignature/v1 line over the note text; return its time (seconds). */
export function verifyCosignature(text, sig, name, publicKey) {
  if (sig.signature.length !== TIMESTAMP_BYTES + SIGNATURE_BYTES) {
    throw new EncodingError(`cosignature of ${name}: expected ${TIMESTAMP_BYTES + SIGNATURE_BYTES} bytes`);
  }
  let time = 0n;
  for (const b of sig.signature.slice(0, TIMESTAMP_BYTES)) time = (time << 8n) | BigInt(b);
  if (time > MAX_TIMESTAMP) throw new EncodingError(`cosignature of ${name}: time exceeds 2^63 - 1`);
  const message = utf8(`cosignature/v1\ntime ${time}\n${text}`);
  verifyRaw(publicKey, message, sig.signature.slice(TIMESTAMP_BYTES), name);
  return time;
}

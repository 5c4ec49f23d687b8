import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { ed25519 } from '@noble/curves/ed25519.js';

import {
  electionOrigin, keyId, openCheckpoint, parseCheckpoint, parseNote, SIG_COSIGNATURE_V1,
} from '../src/checkpoint.js';
import { b64encode, bytesToHex } from '../src/encoding.js';
import { EncodingError, InvalidSignature, ManifestError, SchemaError, WitnessPolicyError } from '../src/errors.js';
import {
  checkCosigners, checkWitnessPolicy, witnessPolicyFromJson, witnessPolicyToJson,
} from '../src/witness.js';
import { REPO } from './helpers.js';

// docs/witness.md §2.2 publishes a cosigned checkpoint (recomputed byte for byte by
// tests/core/test_checkpoint.py): board seed 32 x 0x02, witness seed 32 x 0x03, election city-poll.
const DOC = readFileSync(join(REPO, 'docs', 'witness.md'), 'utf8');
const NOTE = `${DOC.match(/```\n(evote\/gTl3[^`]*?)```/)[1]}`;
const BOARD = ed25519.getPublicKey(new Uint8Array(32).fill(2));
const WITNESS = ed25519.getPublicKey(new Uint8Array(32).fill(3));
const NAME = 'w1.witness.example/evote';
const policy = (threshold = 1, extra = []) => witnessPolicyFromJson({
  keys: [{ name: NAME, key: b64encode(WITNESS) }, ...extra], threshold,
});

test("the documentation's checkpoint parses, is the board's, and meets a 1-of-1 policy", () => {
  assert.equal(b64encode(BOARD), 'gTl3Dqh9F19Wo1Rmw0x-zMuNipG07jeiXfYPW4_Js5Q');
  assert.equal(bytesToHex(keyId(NAME, SIG_COSIGNATURE_V1, WITNESS)), '545b2b3a'); // the doc's vkey
  const { checkpoint, note } = openCheckpoint(NOTE, BOARD, 'city-poll');
  assert.equal(checkpoint.origin, electionOrigin(BOARD, 'city-poll'));
  assert.equal(checkpoint.size, 5);
  assert.deepEqual(checkWitnessPolicy(note, policy()), [NAME]);
});

test('another election, another board key, or a changed text is refused', () => {
  assert.throws(() => openCheckpoint(NOTE, BOARD, 'other-poll'), SchemaError);
  assert.throws(() => openCheckpoint(NOTE, WITNESS, 'city-poll'), InvalidSignature);
  const grown = NOTE.replace('\n5\n', '\n6\n');
  assert.throws(() => openCheckpoint(grown, BOARD, 'city-poll'), InvalidSignature);
});

test('a policy needs its threshold, and every line naming a listed witness must verify', () => {
  const other = { name: 'w2.example/evote', key: b64encode(ed25519.getPublicKey(new Uint8Array(32).fill(4))) };
  const note = parseNote(NOTE);
  assert.throws(() => checkWitnessPolicy(note, policy(2, [other])), (exc) => exc instanceof WitnessPolicyError
    && exc.code === 'witness_policy' && exc.detail.signed.length === 1);
  const lines = NOTE.trimEnd().split('\n');
  const cosig = lines.at(-1);
  const last = cosig.at(-3) === 'A' ? 'B' : 'A';
  const flipped = [...lines.slice(0, -1), cosig.slice(0, -3) + last + cosig.slice(-2)].join('\n');
  assert.throws(() => checkWitnessPolicy(parseNote(`${flipped}\n`), policy()), (exc) => exc instanceof InvalidSignature
    || exc instanceof EncodingError);
  const stranger = NOTE.replaceAll(NAME, 'stranger.example/w'); // not a listed name: ignored
  assert.throws(() => checkWitnessPolicy(parseNote(stranger), policy()), WitnessPolicyError);
});

test('notes and checkpoints are parsed strictly', () => {
  for (const bad of ['', 'no blank line\n', NOTE.trimEnd(), NOTE.replace('\u2014 ', '- '),
    NOTE.replace('\n5\n', '\n05\n'), NOTE.replace('=\n\n', '\n\n')]) {
    assert.throws(() => parseCheckpoint(parseNote(bad).text), EncodingError, JSON.stringify(bad.slice(-30)));
  }
});

test('the manifest policy is checked as evote.witness.WitnessPolicy does', () => {
  const key = b64encode(WITNESS);
  const json = { keys: [{ name: NAME, key }], threshold: 1 };
  assert.deepEqual(witnessPolicyToJson(witnessPolicyFromJson(json)), json);
  for (const bad of [
    { keys: [], threshold: 1 },
    { keys: [{ name: NAME, key }], threshold: 2 },
    { keys: [{ name: NAME, key }], threshold: 0 },
    { keys: [{ name: NAME, key }, { name: NAME, key: b64encode(BOARD) }], threshold: 1 },
    { keys: [{ name: NAME, key }, { name: 'w2', key }], threshold: 1 },
    { keys: [{ name: 'has space', key }], threshold: 1 },
    { keys: [{ name: 'a+b', key }], threshold: 1 },
    { keys: [{ name: NAME, key: 'short' }], threshold: 1 },
    { keys: [{ name: NAME, key }], threshold: 1, extra: 1 },
  ]) {
    assert.throws(() => witnessPolicyFromJson(bad), ManifestError, JSON.stringify(bad));
  }
});

test('a board listed among its own witnesses is refused (evote.witness.check_cosigners)', () => {
  const { note } = openCheckpoint(NOTE, BOARD, 'city-poll');
  assert.deepEqual(checkCosigners(note, policy(), BOARD), [NAME]);
  const selfWitness = policy(1, [{ name: 'board.example/evote', key: b64encode(BOARD) }]);
  assert.throws(() => checkCosigners(note, selfWitness, BOARD), (exc) => exc instanceof WitnessPolicyError
    && /its own witnesses/.test(exc.message));
});

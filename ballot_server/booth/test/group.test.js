import assert from 'node:assert/strict';
import { test } from 'node:test';

import { b64decode, b64encode, hexToBytes } from '../src/encoding.js';
import { InvalidPoint, InvalidScalar } from '../src/errors.js';
import {
  baseMul, G, L, pointFromBytes, pointFromJson, pointToJson, scalarFromBytes, scalarFromJson,
  scalarToJson, smallMultiple, SMALL_ORDER_POINTS,
} from '../src/group.js';
import { loadVector } from './helpers.js';

const v = loadVector('group.json');

test('generator encoding matches', () => {
  assert.equal(pointToJson(G), v.generator);
});

test('base multiplications match Python byte for byte', () => {
  for (const { scalar, point } of v.base_mul) {
    assert.equal(pointToJson(baseMul(scalarFromJson(scalar))), point);
    // and the point is accepted from outside
    assert.equal(pointToJson(pointFromJson(point)), point);
  }
});

test('small multiples match', () => {
  for (const { m, point } of v.small_multiples) {
    assert.equal(Buffer.from(smallMultiple(m).toBytes()).toString('hex'), point);
  }
});

test('every invalid point vector is rejected', () => {
  assert.ok(v.invalid_points.length >= 15);
  for (const { hex, why } of v.invalid_points) {
    assert.throws(() => pointFromBytes(hexToBytes(hex)), InvalidPoint, why);
  }
});

test('the identity is accepted only when asked for', () => {
  const id = hexToBytes(SMALL_ORDER_POINTS[0]);
  assert.throws(() => pointFromBytes(id), InvalidPoint);
  assert.ok(pointFromBytes(id, { allowIdentity: true }).is0());
});

test('identity with the sign bit set is rejected even with allowIdentity', () => {
  const id = hexToBytes(SMALL_ORDER_POINTS[0]);
  id[31] |= 0x80;
  assert.throws(() => pointFromBytes(id, { allowIdentity: true }), InvalidPoint);
});

test('valid scalars are accepted, invalid ones rejected', () => {
  for (const { hex } of v.valid_scalars) scalarFromBytes(hexToBytes(hex));
  for (const { hex, why } of v.invalid_scalars) {
    assert.throws(() => scalarFromBytes(hexToBytes(hex)), InvalidScalar, why);
  }
  assert.equal(scalarFromBytes(hexToBytes(v.valid_scalars[0].hex)), L - 1n);
});

test('scalar JSON round trip and strict base64url', () => {
  const k = scalarFromJson(v.base_mul[0].scalar);
  assert.equal(scalarToJson(k), v.base_mul[0].scalar);
  assert.throws(() => scalarFromJson(`${v.base_mul[0].scalar}=`), InvalidScalar);
  assert.throws(() => pointFromJson(v.generator.slice(0, -1)), InvalidPoint);
});

test('base64url decoding rejects non-zero spare bits', () => {
  const text = b64encode(new Uint8Array([0xff]));
  assert.equal(text, '_w');
  assert.throws(() => b64decode('_x'));
  assert.deepEqual([...b64decode('_w')], [0xff]);
});

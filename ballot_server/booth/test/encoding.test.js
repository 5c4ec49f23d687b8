import assert from 'node:assert/strict';
import { test } from 'node:test';

import { b64decode, b64encode, canonicalJson, Fields, fromUtf8, parseJson } from '../src/encoding.js';
import { EncodingError, SchemaError } from '../src/errors.js';

const text = (v) => new TextDecoder().decode(canonicalJson(v));

test('RFC 8785: sorted keys, no whitespace, ES number and string forms', () => {
  assert.equal(text({ b: 1, a: [true, null, 'x'], '': 0 }), '{"":0,"a":[true,null,"x"],"b":1}');
  assert.equal(text('\u2028"\\\u0001é'), '"\u2028\\"\\\\\\u0001é"');
  // UTF-16 code unit order: U+E000 sorts before U+1F600 (a surrogate pair 0xD83D...)? No: 0xD83D < 0xE000.
  assert.equal(text({ '\ue000': 1, '\u{1f600}': 2 }), '{"\u{1f600}":2,"\ue000":1}');
  assert.throws(() => canonicalJson(1.5), EncodingError);
  assert.throws(() => canonicalJson(2 ** 53), EncodingError);
  assert.throws(() => canonicalJson(undefined), EncodingError);
});

test('strict parsing rejects duplicate keys at any depth', () => {
  assert.deepEqual(parseJson('{"a": {"b": [1, {"c": 2}]}, "d": "a"}'), { a: { b: [1, { c: 2 }] }, d: 'a' });
  assert.throws(() => parseJson('{"a": 1, "a": 2}'), EncodingError);
  assert.throws(() => parseJson('{"x": [{"a": 1, "\\u0061": 2}]}'), EncodingError);
  assert.doesNotThrow(() => parseJson('[{"a": 1}, {"a": 2}]'));
  assert.doesNotThrow(() => parseJson('{"a": "a", "b": {"a": 1}}'));
  assert.throws(() => parseJson('{"a": NaN}'), EncodingError);
  assert.throws(() => fromUtf8(Uint8Array.of(0xff)), EncodingError);
});

test('base64url round trips every length and rejects padding', () => {
  for (let n = 0; n < 40; n++) {
    const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 37 + n) & 0xff);
    assert.deepEqual(b64decode(b64encode(bytes)), bytes);
    assert.deepEqual(b64decode(b64encode(bytes), { length: n }), bytes);
  }
  assert.throws(() => b64decode('AA=='), EncodingError);
  assert.throws(() => b64decode('A'), EncodingError);
  assert.throws(() => b64decode('AA+/'), EncodingError);
  assert.throws(() => b64decode(5), EncodingError);
});

test('Fields reads exact key sets', () => {
  const f = new Fields({ a: 1, b: 'x' }, 'doc', { required: ['a'], optional: ['b'] });
  assert.equal(f.int('a'), 1);
  assert.equal(f.str('b'), 'x');
  assert.throws(() => new Fields({ a: 1, c: 2 }, 'doc', { required: ['a'] }), SchemaError);
  assert.throws(() => new Fields({}, 'doc', { required: ['a'] }), SchemaError);
  assert.throws(() => new Fields([], 'doc', { required: [] }), SchemaError);
});

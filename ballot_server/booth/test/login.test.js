// Reading the login: the bare code or the .login file (src/login.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseLoginText } from '../src/login.js';

const file = (over = {}) => JSON.stringify({ type: 'evote-login', v: 1, election: 'e1', voter: 'v1', login_code: 'abc-123', ...over });

test('the bare code, with surrounding blanks', () => {
  assert.equal(parseLoginText('  abc-123\n', 'e1'), 'abc-123');
});

test('the .login file content', () => {
  assert.equal(parseLoginText(file(), 'e1'), 'abc-123');
  assert.equal(parseLoginText(`\n${JSON.stringify(JSON.parse(file()), null, 2)}\n`, 'e1'), 'abc-123');
});

test('each bad input has its own reason', () => {
  const key = (text, election = 'e1') => {
    try {
      parseLoginText(text, election);
    } catch (exc) {
      return exc.key;
    }
    return null;
  };
  assert.equal(key(''), 'login.error.empty');
  assert.equal(key('   '), 'login.error.empty');
  assert.equal(key('two words'), 'login.error.file');
  assert.equal(key('{not json'), 'login.error.file');
  assert.equal(key(file({ type: 'evote-credential' })), 'login.error.file');
  assert.equal(key(file({ v: 2 })), 'login.error.file');
  assert.equal(key(file({ login_code: '' })), 'login.error.file');
  assert.equal(key(file({ login_code: 'a b' })), 'login.error.file');
  assert.equal(key(file(), 'e2'), 'login.error.election');
});

// Reading the login: the bare code or the .login file (src/login.js).

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseLoginText, providerStartUrl, takeProviderError, takeProviderToken } from '../src/login.js';

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

test('takeProviderError: a refusal code from #oidc-error=, as a catalogue key', () => {
  assert.equal(takeProviderError('#oidc-error=oidc_not_registered'), 'login.error.oidc_not_registered');
  assert.equal(takeProviderError('#oidc-error=oidc_replayed'), 'login.error.oidc_expired');
  assert.equal(takeProviderError('#oidc-error=oidc_bad_signature'), 'login.error.oidc'); // any other code
  assert.equal(takeProviderError('#oidc-error=constructor'), 'login.error.oidc'); // not a prototype key
  assert.equal(takeProviderError('#oidc-error=<img>'), null);
  assert.equal(takeProviderError('#oidc=x'), null);
  assert.equal(takeProviderError(''), null);
});

test('takeProviderToken: the #oidc= session token, or null for anything else', () => {
  const token = `oidc.${'a'.repeat(60)}.${'B'.repeat(43)}`;
  assert.equal(takeProviderToken(`#oidc=${token}`), token);
  assert.equal(takeProviderToken(`#check=x&oidc=${token}`), token);
  assert.equal(takeProviderToken(''), null);
  assert.equal(takeProviderToken('#check=abc'), null);
  assert.equal(takeProviderToken(`#oidc=${token}x`), null); // a MAC is 43 characters
  assert.equal(takeProviderToken('#oidc=oidc.<script>.x'), null);
  assert.equal(takeProviderToken(`#oidc=${token.replace('oidc.', 'code.')}`), null);
});

test('providerStartUrl escapes the election id', () => {
  assert.equal(providerStartUrl('poll 1/x'), '/api/v1/elections/poll%201%2Fx/oidc/start');
});

// The browser's sha256 must give the kernel hashes Node gives.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash as nodeHash } from 'node:crypto';
import { createHash, sha256Hex } from '../../web/shims/node-crypto.js';

test('sha256 equals node:crypto on edge lengths and non-ASCII text', () => {
  assert.is(sha256Hex(new Uint8Array(0)), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  for (const n of [1, 3, 55, 56, 63, 64, 65, 119, 120, 1000]) {
    const text = Array.from({ length: n }, (_, i) => String.fromCharCode(32 + ((i * 7) % 90))).join('') + (n % 2 ? 'é→∑' : '');
    assert.is(createHash('sha256').update(text).digest('hex'), nodeHash('sha256').update(text).digest('hex'), `length ${n}`);
  }
  assert.is(createHash('sha256').update('ab').update('c').digest('hex'), nodeHash('sha256').update('abc').digest('hex'));
  assert.throws(() => createHash('md5'), /only sha256/);
});

test.run();

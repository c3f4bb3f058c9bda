import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonReader, JsonSyntaxError, type JsonValue } from '../../data/json-stream.js';

const dir = mkdtempSync(join(tmpdir(), 'fusedet-json-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

function readAll(text: string, chunk?: number): JsonValue {
  const path = join(dir, 'doc.json');
  writeFileSync(path, text);
  const r = chunk === undefined ? JsonReader.fromString(text, 'doc.json') : JsonReader.open(path, chunk);
  try {
    const v = r.readValue();
    r.expectEnd();
    return v;
  } finally { r.close(); }
}

const DOCS = [
  '{"images": [{"id": 1, "file_name": "a b\\"c\\u00e9\\n.png", "width": 640}], "x": [true, false, null, -0.5, 1e-7, 3E+2]}',
  '[1, 2.5, -3, 1.7976931348623157e308, 5e-324, 123456789012345678901234567890, 0.1, 0.30000000000000004]',
  '  {"nested": {"deep": [[[[{"k": "v"}]]]], "empty": {}, "none": []}, "ünïcødé ключ": "値"}  \n',
  '"just a string"', '42', '[]', '{}',
];

for (const [i, doc] of DOCS.entries()) {
  test(`document ${i} reads as JSON.parse does, whole and in 1-, 3- and 7-byte chunks`, () => {
    const want = JSON.parse(doc) as JsonValue;
    assert.equal(readAll(doc), want);
    for (const chunk of [1, 3, 7]) assert.equal(readAll(doc, chunk), want, `chunk ${chunk}`);
  });
}

test('numbers are the correctly rounded doubles (as Python float and Number give)', () => {
  let seed = 7;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const digits = Math.floor(rand() * 20) + 1;
    let s = '';
    for (let d = 0; d < digits; d++) s += Math.floor(rand() * 10);
    s = s.replace(/^0+(?=\d)/, '');
    const dot = Math.floor(rand() * (digits + 1));
    if (dot > 0 && dot < s.length) s = s.slice(0, dot) + '.' + s.slice(dot);
    if (rand() < 0.3) s = '-' + s;
    if (rand() < 0.1) s += `e${Math.floor(rand() * 40) - 20}`;
    texts.push(s);
  }
  const got = readAll(`[${texts.join(',')}]`) as number[];
  texts.forEach((t, i) => assert.ok(Object.is(got[i], Number(t)), `${t}: ${got[i]} vs ${Number(t)}`));
});

test('skipValue passes over any value, including deep nesting and strings with brackets', () => {
  const doc = '{"skip": {"a": [1, {"b": "]}[{"}], "c": ' + '['.repeat(5000) + ']'.repeat(5000) + '}, "keep": 5}';
  for (const r of [JsonReader.fromString(doc, 'd'), (() => { writeFileSync(join(dir, 's.json'), doc); return JsonReader.open(join(dir, 's.json'), 5); })()]) {
    r.beginObject();
    assert.is(r.nextKey(), 'skip');
    r.skipValue();
    assert.is(r.nextKey(), 'keep');
    assert.is(r.readNumber(), 5);
    assert.is(r.nextKey(), null);
    r.expectEnd();
    r.close();
  }
});

test('skipValue still rejects malformed JSON inside what it skips', () => {
  for (const [doc, what] of [['{"a": }', 'expected a value'], ['[1,, 2]', 'expected a value'], ['{"a": 1,}', 'expected a key'], ['[1 2]', "expected ',' or ']'"], ['{"a" 1}', "expected ':'"], ['[[1]', "expected ',' or ']'"]]) {
    const r = JsonReader.fromString(`{"skip": ${doc}}`, 'd');
    r.beginObject();
    r.nextKey();
    assert.throws(() => r.skipValue(), (e: Error) => e.message.includes(what), doc);
  }
});

const BAD: [string, string, number, number][] = [
  ['{"a": [1, 2,]}', "expected a value after ','", 1, 13],
  ['{\n  "a": 1\n  "b": 2\n}', "expected ',' or '}'", 3, 3],
  ['[1, 2', "expected ',' or ']'", 1, 6],
  ['{"a": "unterminated', 'unterminated string', 1, 7],
  ['{"a": 01}', 'leading zero', 1, 7],
  ['{"a": 1.}', 'no digits after', 1, 7],
  ['{"a": -}', 'malformed number', 1, 7],
  ['{"a": tru}', "expected 'true'", 1, 10],
  ['{"a": 1} x', 'after the top-level value', 1, 10],
  ['{"a" 1}', "expected ':'", 1, 6],
  ['{\n\n    "a": [1,\n      nope]}', "expected 'null'", 4, 8],
  ['', 'unexpected end of file', 1, 1],
];

for (const [doc, what, line, col] of BAD) {
  test(`malformed ${JSON.stringify(doc)} is reported at ${line}:${col}`, () => {
    for (const chunk of [undefined, 2]) {
      try {
        readAll(doc, chunk);
        assert.unreachable('should have thrown');
      } catch (e) {
        assert.instance(e, JsonSyntaxError);
        const err = e as JsonSyntaxError;
        assert.ok(err.message.includes(what), err.message);
        assert.ok(err.message.includes(`doc.json:${line}:${col}: `), `chunk ${chunk}: ${err.message}`);
        assert.is(err.exitCode, 1);
      }
    }
  });
}

test.run();

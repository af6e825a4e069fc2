import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalDigest, canonicalJson } from '../../../shared/domain/canonical-json.js';

/** The same members, inserted in the reverse order, at every depth. */
function reversed(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(reversed);
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .reverse()
      .map(([k, v]) => [k, reversed(v)]),
  );
}

describe('Function: canonicalJson', () => {
  it('gives one text whatever the key order, and drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }));
  });

  it('keeps array order, and tells apart values JSON tells apart', () => {
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: '1' })).not.toBe(canonicalJson({ a: 1 }));
    expect(canonicalJson({ a: false })).not.toBe(canonicalJson({}));
    expect(canonicalJson({ 'a"b': 'c\\d' })).toBe('{"a\\"b":"c\\\\d"}');
  });

  it('is JSON that reads back as the value, and the same text for any member order', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalJson(value);
        expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(value)));
        expect(canonicalJson(reversed(value))).toBe(text);
      }),
    );
  });
});

describe('Function: canonicalDigest', () => {
  it('is the SHA-256 of the canonical text, the same for any member order', () => {
    const text = '{"a":1,"b":[true,null]}';
    expect(canonicalDigest({ b: [true, null], a: 1 })).toBe(createHash('sha256').update(text).digest('hex'));
    expect(canonicalDigest({ a: 1, b: [true, null] })).toMatch(/^[0-9a-f]{64}$/);
    expect(canonicalDigest({ a: 1 })).not.toBe(canonicalDigest({ a: 2 }));
  });
});

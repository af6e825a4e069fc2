/**
 * Fitting a notification into what SNS accepts. A notification is usually sent on a failure path, so its
 * free text is made acceptable rather than refused: refusing it would hide the failure it reports.
 *
 * - Subject: at most 100 characters of printable ASCII, no line breaks or control characters, starting
 *   with a letter, digit or punctuation mark (email subscribers see it as the mail subject).
 * - Message: at most 256 KiB in UTF-8, counted together with the message attributes' names, types and
 *   values; never empty.
 */
import { Buffer } from 'node:buffer';

export const MAX_SUBJECT_CHARS = 100;
export const MAX_PUBLISH_BYTES = 256 * 1024;

/** Typographic characters with a plain ASCII spelling, so a subject keeps its meaning rather than `?`s. */
const ASCII_SPELLINGS: Readonly<Record<string, string>> = {
  '\u2018': "'",
  '\u2019': "'",
  '\u201c': '"',
  '\u201d': '"',
  '\u2013': '-',
  '\u2014': '-',
  '\u2026': '...',
  '\u2192': '->',
  '\u00a0': ' ',
};

const ELLIPSIS = '...';

/**
 * `text` as a subject SNS accepts: line breaks and control characters become spaces, accents are dropped
 * (é → e), typographic punctuation is spelled in ASCII, anything else outside printable ASCII becomes `?`,
 * runs of spaces collapse, and an over-long subject is cut with `...`. Empty results give `fallback`,
 * which is sanitized the same way.
 */
export function toSnsSubject(text: string, fallback: string): string {
  const subject = sanitizeSubject(text);
  return subject.length > 0 ? subject : sanitizeSubject(fallback);
}

function sanitizeSubject(text: string): string {
  const ascii = text
    // eslint-disable-next-line no-control-regex -- control characters and line breaks are what SNS refuses
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^\x20-\x7e]/gu, (c) => ASCII_SPELLINGS[c] ?? '?')
    .replace(/ {2,}/g, ' ')
    .trim();
  if (ascii.length <= MAX_SUBJECT_CHARS) return ascii;
  return `${ascii.slice(0, MAX_SUBJECT_CHARS - ELLIPSIS.length).trimEnd()}${ELLIPSIS}`;
}

/**
 * `message` cut to at most `budgetBytes` of UTF-8, on a character boundary, ending with a line that says
 * how long the original was, so a reader knows the rest is missing (the full story is in the audit log).
 */
export function fitMessage(message: string, budgetBytes: number): string {
  const bytes = Buffer.from(message, 'utf8');
  if (bytes.byteLength <= budgetBytes) return message;
  const marker = `\n[truncated: the full message had ${bytes.byteLength} bytes, SNS takes ${MAX_PUBLISH_BYTES}]`;
  let keep = Math.max(0, budgetBytes - Buffer.byteLength(marker, 'utf8'));
  // Back off to the first byte of a character, never splitting a multi-byte sequence.
  while (keep > 0 && ((bytes[keep] ?? 0) & 0xc0) === 0x80) keep -= 1;
  return `${bytes.subarray(0, keep).toString('utf8')}${marker}`;
}

/** What message attributes count toward the message size limit: names, data types and values. */
export function attributeBytes(
  attributes: Readonly<Record<string, { readonly DataType: string; readonly StringValue?: string }>>,
): number {
  return Object.entries(attributes).reduce(
    (sum, [name, value]) =>
      sum +
      Buffer.byteLength(name, 'utf8') +
      Buffer.byteLength(value.DataType, 'utf8') +
      Buffer.byteLength(value.StringValue ?? '', 'utf8'),
    0,
  );
}

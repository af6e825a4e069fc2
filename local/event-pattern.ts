/**
 * EventBridge event patterns, the subset a synthesized rule of rejuv's can hold: every field of the
 * pattern must match (objects nest), a list matches when any of its entries does, an entry being an exact
 * value or one of `prefix`, `suffix`, `anything-but` (a value, a list, or `{prefix}`), `exists`,
 * `equals-ignore-case`. An event's array field matches when any element does. Anything else (numeric,
 * cidr, wildcard, `$or`) is refused as not emulated, so a rule is never silently mismatched.
 */

type Pattern = Readonly<Record<string, unknown>>;

export class UnsupportedEventPatternError extends Error {
  override readonly name = 'UnsupportedEventPatternError';
}

const isObject = (v: unknown): v is Pattern => typeof v === 'object' && v !== null && !Array.isArray(v);

function matchesEntry(entry: unknown, value: unknown, present: boolean): boolean {
  if (!isObject(entry)) return present && value === entry;
  const [operator, operand] = Object.entries(entry)[0] ?? [];
  switch (operator) {
    case 'prefix':
      return present && typeof value === 'string' && value.startsWith(String(operand));
    case 'suffix':
      return present && typeof value === 'string' && value.endsWith(String(operand));
    case 'equals-ignore-case':
      return present && typeof value === 'string' && value.toLowerCase() === String(operand).toLowerCase();
    case 'exists':
      return operand === present;
    case 'anything-but': {
      if (!present) return false;
      if (isObject(operand)) return !matchesEntry(operand, value, present);
      const excluded = Array.isArray(operand) ? operand : [operand];
      return !excluded.includes(value);
    }
    default:
      throw new UnsupportedEventPatternError(`event pattern operator ${String(operator)} is not emulated`);
  }
}

function matchesField(patternValue: unknown, event: Pattern, key: string): boolean {
  const present = key in event;
  const value = event[key];
  if (isObject(patternValue)) return present && isObject(value) && matchesEventPattern(patternValue, value);
  if (!Array.isArray(patternValue))
    throw new UnsupportedEventPatternError(`pattern field ${key} must be a list or an object`);
  const values = Array.isArray(value) ? value : [value];
  return patternValue.some((entry) =>
    isObject(entry) && ('exists' in entry || !present)
      ? matchesEntry(entry, undefined, present)
      : values.some((v) => matchesEntry(entry, v, present)),
  );
}

export function matchesEventPattern(pattern: Pattern, event: Pattern): boolean {
  for (const key of Object.keys(pattern))
    if (key.startsWith('$')) throw new UnsupportedEventPatternError(`${key} is not emulated`);
  return Object.entries(pattern).every(([key, value]) => matchesField(value, event, key));
}

/**
 * The arithmetic of CloudWatch metric math, which is all an alarm of rejuv's uses: numbers, query ids,
 * `+ - * /`, unary minus and parentheses, evaluated per timestamp on the timestamps every referenced
 * series has (as CloudWatch aligns series in arithmetic). Functions (`RATE`, `FILL`, `SEARCH`, ...) are
 * refused as not emulated rather than guessed at.
 */

type Node =
  | { readonly kind: 'number'; readonly value: number }
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'negate'; readonly operand: Node }
  | {
      readonly kind: 'binary';
      readonly op: '+' | '-' | '*' | '/';
      readonly left: Node;
      readonly right: Node;
    };

export class MetricMathError extends Error {
  override readonly name = 'MetricMathError';
}

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|([-+*/()]))/y;

function tokenize(expression: string): string[] {
  const tokens: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < expression.length) {
    if (/^\s*$/.test(expression.slice(TOKEN.lastIndex))) break;
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(expression);
    if (m === null)
      throw new MetricMathError(`unexpected character at ${at} in ${JSON.stringify(expression)}`);
    tokens.push((m[1] ?? m[2] ?? m[3]) as string);
  }
  return tokens;
}

/** Parses the expression; throws MetricMathError naming what is not emulated or malformed. */
export function parseMetricMath(expression: string): Node {
  const tokens = tokenize(expression);
  let i = 0;
  const peek = () => tokens[i];
  const primary = (): Node => {
    const token = tokens[i++];
    if (token === undefined) throw new MetricMathError(`${JSON.stringify(expression)} ends early`);
    if (token === '(') {
      const inner = sum();
      if (tokens[i++] !== ')') throw new MetricMathError(`missing ) in ${JSON.stringify(expression)}`);
      return inner;
    }
    if (token === '-') return { kind: 'negate', operand: primary() };
    if (/^\d/.test(token)) return { kind: 'number', value: Number(token) };
    if (/^[A-Za-z_]/.test(token)) {
      if (peek() === '(') throw new MetricMathError(`function ${token} is not emulated`);
      return { kind: 'id', id: token };
    }
    throw new MetricMathError(`unexpected ${token} in ${JSON.stringify(expression)}`);
  };
  const product = (): Node => {
    let node = primary();
    while (peek() === '*' || peek() === '/') {
      const op = tokens[i++] as '*' | '/';
      node = { kind: 'binary', op, left: node, right: primary() };
    }
    return node;
  };
  const sum = (): Node => {
    let node = product();
    while (peek() === '+' || peek() === '-') {
      const op = tokens[i++] as '+' | '-';
      node = { kind: 'binary', op, left: node, right: product() };
    }
    return node;
  };
  const node = sum();
  if (i !== tokens.length)
    throw new MetricMathError(`unexpected ${tokens[i]} in ${JSON.stringify(expression)}`);
  return node;
}

export function referencedIds(node: Node): Set<string> {
  switch (node.kind) {
    case 'number':
      return new Set();
    case 'id':
      return new Set([node.id]);
    case 'negate':
      return referencedIds(node.operand);
    case 'binary':
      return new Set([...referencedIds(node.left), ...referencedIds(node.right)]);
  }
}

/** The expression's series: a value at each time every referenced series has; a non-finite result is dropped. */
export function evaluateMetricMath(
  node: Node,
  series: ReadonlyMap<string, ReadonlyMap<number, number>>,
): Map<number, number> {
  const ids = [...referencedIds(node)];
  for (const id of ids) if (!series.has(id)) throw new MetricMathError(`unknown id ${id}`);
  const times =
    ids.length === 0
      ? []
      : [...(series.get(ids[0] as string) ?? new Map<number, number>()).keys()].filter((t) =>
          ids.every((id) => series.get(id)?.has(t) === true),
        );
  const at = (n: Node, t: number): number => {
    switch (n.kind) {
      case 'number':
        return n.value;
      case 'id':
        return series.get(n.id)?.get(t) as number;
      case 'negate':
        return -at(n.operand, t);
      case 'binary': {
        const [l, r] = [at(n.left, t), at(n.right, t)];
        return n.op === '+' ? l + r : n.op === '-' ? l - r : n.op === '*' ? l * r : l / r;
      }
    }
  };
  const result = new Map<number, number>();
  for (const t of times) {
    const v = at(node, t);
    if (Number.isFinite(v)) result.set(t, v);
  }
  return result;
}

export type MetricMathNode = Node;

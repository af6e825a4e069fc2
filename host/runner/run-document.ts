/**
 * Runs an SSM Command document on a local "host" (a directory) the way the SSM agent runs it on an
 * instance: parameters checked and substituted first, then each aws:runShellScript step written to
 * `_script.sh` and started as `sh -c <script>` in its own process group, killed as a group at the
 * step's timeoutSeconds, its exit code mapped to SSM statuses and its output truncated the way
 * GetCommandInvocation truncates it. A step that exits 194 asks the agent to reboot the node and run the
 * same step again afterwards, as the SSM agent does on Linux: with a `reboot` option the runner does
 * exactly that; without one it reports the step failed and says it cannot reboot.
 *
 * An aws:downloadContent step (sourceType S3) fetches its object through `readS3Object` into the
 * host's orchestration directory or the absolute path it names (download-content.ts).
 *
 * Where a step's script runs is a `ScriptLauncher`: by default a process on this machine; a lab host
 * with its own kernel runs it inside that kernel (host/lab/kernel-host-ssm-agent.ts).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  CommandDocumentSchema,
  type CommandDocument,
  type CommandDocumentInput,
  type CommandDocumentStep,
} from './command-document.js';
import { resolveParameters, type SuppliedParameters } from './document-parameters.js';
import {
  DownloadContentInputsSchema,
  runDownloadContent,
  type DownloadContentInputs,
  type S3ObjectReader,
} from './download-content.js';
import { UnsupportedDocumentError } from './errors.js';
import { substituteParameters } from './substitute-parameters.js';

/** GetCommandInvocation returns the first 24,000 characters of stdout and the first 8,000 of stderr. */
export const STDOUT_LIMIT_CHARS = 24_000;
export const STDERR_LIMIT_CHARS = 8_000;
export const DEFAULT_STEP_TIMEOUT_SECONDS = 3600;
/** The SSM Agent's range for a step's timeoutSeconds (amazon-ssm-agent, pluginutil.ValidateExecutionTimeout). */
export const MIN_STEP_TIMEOUT_SECONDS = 5;
export const MAX_STEP_TIMEOUT_SECONDS = 172_800;
/** The SSM agent reports a step it killed (timeout or cancel) with 128 + SIGKILL. */
export const STOPPED_PREEMPTIVELY_EXIT_CODE = 137;
/** Exit codes the SSM agent gives meaning to on Linux. */
const EXIT_SUCCESS_SKIP_REST = 168;
const EXIT_FAILURE_SKIP_REST = 169;
const EXIT_REBOOT = 194;
/** Output kept in memory per stream; everything past the SSM limits is dropped anyway. */
const CAPTURE_LIMIT_CHARS = 1 << 20;
/** How long to wait for a finished script's pipes to close, in case a leftover child still holds them. */
const PIPE_DRAIN_MS = 2000;

export type RunStatus = 'Success' | 'Failed' | 'TimedOut' | 'Cancelled';

export interface StepRun {
  readonly name: string;
  readonly action: string;
  readonly status: RunStatus | 'Skipped';
  /** The step's exit code; 137 when the runner killed it; -1 when it never ran. */
  readonly responseCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedAt: string;
  readonly endedAt: string;
}

export interface DocumentRun {
  readonly commandId: string;
  readonly status: RunStatus;
  readonly responseCode: number;
  /** Every step's stdout, joined by newlines, truncated to STDOUT_LIMIT_CHARS. */
  readonly stdout: string;
  /** Every step's stderr, joined by newlines, truncated to STDERR_LIMIT_CHARS. */
  readonly stderr: string;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly steps: readonly StepRun[];
}

export interface RunDocumentOptions {
  readonly document: CommandDocumentInput;
  /** Used in error messages and the orchestration directory's name. */
  readonly documentName?: string;
  readonly parameters?: SuppliedParameters;
  /** The directory acting as the host's root; passed to the script as REJUV_HOST_ROOT. */
  readonly hostRoot: string;
  /** Extra environment for the script, on top of PATH, LANG and REJUV_HOST_ROOT (test seams use it). */
  readonly env?: Readonly<Record<string, string>>;
  readonly signal?: AbortSignal;
  /** Runs each step's script; a process on this machine by default. */
  readonly launcher?: ScriptLauncher;
  /** Where aws:downloadContent steps read S3 objects (local mode: the local S3); such steps fail without. */
  readonly readS3Object?: S3ObjectReader;
  /**
   * What the agent does on exit 194: reboot the node and resolve once it is back, so that the same step
   * runs again. It should keep waiting while the node is down and give up only when `signal` aborts.
   */
  readonly reboot?: (signal: AbortSignal | undefined) => Promise<void>;
}

export interface ScriptLaunch {
  readonly scriptPath: string;
  readonly workingDirectory: string;
  /**
   * The script's environment as the agent sets it on this machine (PATH included); a launcher for
   * another machine passes on what the document needs (REJUV_HOST_ROOT, LANG, fault seams) and keeps
   * that machine's own PATH.
   */
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutSeconds: number;
  readonly signal: AbortSignal | undefined;
}

export interface ScriptExit {
  /** null when the script was killed by a signal or never started. */
  readonly code: number | null;
  readonly signal?: NodeJS.Signals | null;
  /** Set when the launcher stopped the script itself: its timeout passed, or `signal` aborted. */
  readonly stoppedAs?: 'TimedOut' | 'Cancelled';
  /** Why it could not be started or followed, if so. */
  readonly error?: Error;
  readonly stdout: string;
  readonly stderr: string;
}

export type ScriptLauncher = (launch: ScriptLaunch) => Promise<ScriptExit>;

/** How many times one step may ask for a reboot before the runner stops obliging (a reboot loop). */
const MAX_REBOOTS_PER_STEP = 3;

interface PreparedStep {
  readonly step: CommandDocumentStep;
  readonly script: string;
  readonly timeoutSeconds: number;
  readonly workingDirectory: string | undefined;
  readonly applies: boolean;
  /** Set for an aws:downloadContent step (its inputs, parameters substituted); `script` is then empty. */
  readonly download?: DownloadContentInputs;
}

function prepareDownload(
  documentName: string,
  step: CommandDocumentStep,
  values: Readonly<Record<string, string>>,
): DownloadContentInputs {
  const parsed = DownloadContentInputsSchema.safeParse(step.inputs);
  if (!parsed.success)
    throw new UnsupportedDocumentError(documentName, `step ${step.name}: ${parsed.error.issues[0]?.message}`);
  const substitute = (text: string) => substituteParameters(documentName, text, values);
  const { sourceType, sourceInfo, destinationPath } = parsed.data;
  return {
    sourceType: substitute(sourceType),
    sourceInfo: substitute(sourceInfo),
    ...(destinationPath === undefined ? {} : { destinationPath: substitute(destinationPath) }),
  };
}

function prepareSteps(
  documentName: string,
  document: CommandDocument,
  values: Readonly<Record<string, string>>,
): PreparedStep[] {
  return document.mainSteps.map((step) => {
    const download =
      step.action === 'aws:downloadContent' ? prepareDownload(documentName, step, values) : undefined;
    if (step.action !== 'aws:runShellScript' && download === undefined)
      throw new UnsupportedDocumentError(documentName, `step ${step.name} uses ${step.action}`);
    const commands = step.inputs.runCommand;
    if (download === undefined && commands === undefined)
      throw new UnsupportedDocumentError(documentName, `step ${step.name} has no runCommand`);
    const lines = typeof commands === 'string' ? [commands] : (commands ?? []);
    const script = substituteParameters(documentName, lines.join('\n'), values);
    const rawTimeout = substituteParameters(
      documentName,
      String(step.inputs.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS),
      values,
    );
    const timeoutSeconds = agentStepTimeoutSeconds(rawTimeout);
    const workingDirectory =
      step.inputs.workingDirectory === undefined || step.inputs.workingDirectory === ''
        ? undefined
        : substituteParameters(documentName, step.inputs.workingDirectory, values);
    const precondition = step.precondition?.StringEquals;
    const applies =
      precondition === undefined || (precondition[0] === 'platformType' && precondition[1] === 'Linux');
    return { step, script, timeoutSeconds, workingDirectory, applies, ...(download ? { download } : {}) };
  });
}

/**
 * The timeout the SSM Agent gives a step, from its substituted `timeoutSeconds`, by the agent's own rule:
 * an integer, or a number truncated to one, from 5 to 172,800 s; anything else (text, 0, 1 s, three days)
 * is not refused but replaced by the default 3,600 s. So a document asking for 1 s runs for an hour.
 */
export function agentStepTimeoutSeconds(raw: string): number {
  const seconds = /^[+-]?\d+$/.test(raw)
    ? Number.parseInt(raw, 10)
    : /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(raw)
      ? Math.trunc(Number.parseFloat(raw))
      : DEFAULT_STEP_TIMEOUT_SECONDS;
  return seconds < MIN_STEP_TIMEOUT_SECONDS || seconds > MAX_STEP_TIMEOUT_SECONDS
    ? DEFAULT_STEP_TIMEOUT_SECONDS
    : seconds;
}

/** Collects a stream's text up to a limit, discarding the rest. */
function collect(stream: Readable): () => string {
  let text = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    if (text.length < CAPTURE_LIMIT_CHARS) text += chunk;
  });
  return () => text;
}

function ended(stream: Readable): Promise<void> {
  return new Promise((resolve) => {
    if (stream.readableEnded || stream.destroyed) resolve();
    else stream.once('close', () => resolve());
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is already gone.
  }
}

function statusFor(exitCode: number): RunStatus {
  return exitCode === 0 || exitCode === EXIT_SUCCESS_SKIP_REST ? 'Success' : 'Failed';
}

/**
 * `sh -c <script>` on this machine, in its own process group, started through `commandPrefix` when one
 * is given: a command that execs its arguments in the same process (e.g. `ip netns exec <ns>`, which runs
 * the script inside a network namespace), so the group is still the script's.
 */
export function processLauncher(commandPrefix: readonly string[] = []): ScriptLauncher {
  return (launch) => launchProcess(commandPrefix, launch);
}

/** The default launcher: `sh -c <script>` on this machine, in its own process group. */
export const localProcessLauncher: ScriptLauncher = processLauncher();

async function launchProcess(commandPrefix: readonly string[], launch: ScriptLaunch): Promise<ScriptExit> {
  const [command = 'sh', ...args] = [...commandPrefix, 'sh', '-c', launch.scriptPath];
  const child = spawn(command, args, {
    cwd: launch.workingDirectory,
    env: launch.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout = collect(child.stdout);
  const stderr = collect(child.stderr);
  let stoppedAs: 'TimedOut' | 'Cancelled' | undefined;
  const stop = (as: 'TimedOut' | 'Cancelled') => {
    stoppedAs ??= as;
    killGroup(child.pid);
  };
  const timer = setTimeout(() => stop('TimedOut'), launch.timeoutSeconds * 1000);
  const onAbort = () => stop('Cancelled');
  launch.signal?.addEventListener('abort', onAbort, { once: true });
  // An abort while the step was being written out fired no listener: stop the step now.
  if (launch.signal?.aborted === true) onAbort();

  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, exitSignal) => resolve({ code, signal: exitSignal }));
    },
  );
  clearTimeout(timer);
  launch.signal?.removeEventListener('abort', onAbort);
  await Promise.race([
    Promise.all([ended(child.stdout), ended(child.stderr)]),
    new Promise((resolve) => setTimeout(resolve, PIPE_DRAIN_MS)),
  ]);
  child.stdout.destroy();
  child.stderr.destroy();
  return {
    ...exit,
    ...(stoppedAs === undefined ? {} : { stoppedAs }),
    stdout: stdout(),
    stderr: stderr(),
  };
}

interface StepEnvironment {
  readonly orchestrationDir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly launcher: ScriptLauncher;
  readonly signal: AbortSignal | undefined;
  readonly readS3Object: S3ObjectReader | undefined;
}

async function runStep(prepared: PreparedStep, where: StepEnvironment): Promise<StepRun> {
  const startedAt = new Date().toISOString();
  if (prepared.download !== undefined) {
    const outcome = await runDownloadContent(prepared.download, where.orchestrationDir, where.readS3Object);
    return {
      name: prepared.step.name,
      action: prepared.step.action,
      status: statusFor(outcome.code),
      responseCode: outcome.code,
      stdout: outcome.stdout,
      stderr: outcome.stderr,
      startedAt,
      endedAt: new Date().toISOString(),
    };
  }
  const stepDir = join(where.orchestrationDir, prepared.step.name);
  await mkdir(stepDir, { recursive: true });
  const scriptPath = join(stepDir, '_script.sh');
  await writeFile(scriptPath, prepared.script);
  await chmod(scriptPath, 0o700);

  const exit = await where.launcher({
    scriptPath,
    workingDirectory: prepared.workingDirectory ?? stepDir,
    env: where.env,
    timeoutSeconds: prepared.timeoutSeconds,
    signal: where.signal,
  });

  const extraError = exit.error === undefined ? '' : `\nfailed to start the script: ${exit.error.message}`;
  let status: RunStatus;
  let responseCode: number;
  if (exit.stoppedAs !== undefined) {
    status = exit.stoppedAs;
    responseCode = STOPPED_PREEMPTIVELY_EXIT_CODE;
  } else if (exit.code === null) {
    status = 'Failed';
    responseCode = exit.signal == null ? 1 : 128 + signalNumber(exit.signal);
  } else {
    status = statusFor(exit.code);
    responseCode = exit.code;
  }
  return {
    name: prepared.step.name,
    action: prepared.step.action,
    status,
    responseCode,
    stdout: exit.stdout,
    stderr: exit.stderr + extraError,
    startedAt,
    endedAt: new Date().toISOString(),
  };
}

/**
 * One step as the SSM agent runs it: again after each reboot it asked for with 194. The rerun's output
 * is the step's output, as after a real reboot (the first run's process and pipes are gone).
 */
async function runStepWithReboots(
  prepared: PreparedStep,
  where: StepEnvironment,
  reboot: RunDocumentOptions['reboot'],
): Promise<StepRun> {
  for (let reboots = 0; ; reboots++) {
    const run = await runStep(prepared, where);
    if (run.responseCode !== EXIT_REBOOT) return run;
    if (reboot === undefined)
      return {
        ...run,
        stderr: `${run.stderr}\n[local runner] exit 194 asks the SSM agent to reboot the host; this host cannot be rebooted`,
      };
    if (reboots >= MAX_REBOOTS_PER_STEP)
      return {
        ...run,
        stderr: `${run.stderr}\n[local runner] step ${run.name} asked for a reboot ${reboots + 1} times in a row; stopped`,
      };
    await reboot(where.signal);
    if (where.signal?.aborted === true) return { ...run, status: 'Cancelled' };
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  const signals: Partial<Record<NodeJS.Signals, number>> = {
    SIGKILL: 9,
    SIGTERM: 15,
    SIGINT: 2,
    SIGSEGV: 11,
  };
  return signals[signal] ?? 0;
}

function overallStatus(steps: readonly StepRun[]): RunStatus {
  const ran = steps.map((s) => s.status);
  if (ran.includes('Cancelled')) return 'Cancelled';
  if (ran.includes('TimedOut')) return 'TimedOut';
  if (ran.includes('Failed')) return 'Failed';
  return 'Success';
}

function skipped(step: CommandDocumentStep): StepRun {
  const now = new Date().toISOString();
  return {
    name: step.name,
    action: step.action,
    status: 'Skipped',
    responseCode: -1,
    stdout: '',
    stderr: '',
    startedAt: now,
    endedAt: now,
  };
}

/**
 * The timeout the SSM Agent would give each step of `document` sent with `parameters` (checked and
 * substituted as SendCommand and the agent do), by step name: what a caller's deadline becomes on the host.
 */
export function stepTimeouts(
  documentName: string,
  document: CommandDocumentInput,
  parameters: SuppliedParameters,
): Record<string, number> {
  const parsed = CommandDocumentSchema.parse(document);
  const values = resolveParameters(documentName, parsed, parameters);
  return Object.fromEntries(
    prepareSteps(documentName, parsed, values).map((step) => [step.step.name, step.timeoutSeconds]),
  );
}

/**
 * Runs the document's steps in order. Throws DocumentParameterError or UnsupportedDocumentError before
 * anything runs; otherwise resolves with the run however the steps end. As in SSM, a failed step does
 * not stop the next unless it says `onFailure: exit`; exit code 168/169 stop the rest with success/failure.
 */
export async function runDocument(options: RunDocumentOptions): Promise<DocumentRun> {
  const documentName = options.documentName ?? 'document';
  const parsed = CommandDocumentSchema.safeParse(options.document);
  if (!parsed.success)
    throw new UnsupportedDocumentError(documentName, parsed.error.issues.map((i) => i.message).join('; '));
  const values = resolveParameters(documentName, parsed.data, options.parameters ?? {});
  const prepared = prepareSteps(documentName, parsed.data, values);

  const commandId = randomUUID();
  const startedAt = new Date().toISOString();
  const orchestrationDir = join(options.hostRoot, 'var', 'lib', 'amazon', 'ssm', 'orchestration', commandId);
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: 'C.UTF-8',
    REJUV_HOST_ROOT: options.hostRoot,
    ...options.env,
  };

  const steps: StepRun[] = [];
  let halted = false;
  for (const step of prepared) {
    if (halted || !step.applies || options.signal?.aborted === true) {
      steps.push(skipped(step.step));
      continue;
    }
    const run = await runStepWithReboots(
      step,
      {
        orchestrationDir,
        env,
        launcher: options.launcher ?? localProcessLauncher,
        signal: options.signal,
        readS3Object: options.readS3Object,
      },
      options.reboot,
    );
    steps.push(run);
    halted =
      run.status === 'Cancelled' ||
      run.responseCode === EXIT_SUCCESS_SKIP_REST ||
      run.responseCode === EXIT_FAILURE_SKIP_REST ||
      (run.status !== 'Success' && step.step.onFailure === 'exit');
  }
  const ran = steps.filter((s) => s.status !== 'Skipped');
  const last = ran.at(-1);
  return {
    commandId,
    status: options.signal?.aborted === true && ran.length === 0 ? 'Cancelled' : overallStatus(ran),
    responseCode: last?.responseCode ?? -1,
    stdout: ran
      .map((s) => s.stdout)
      .join('\n')
      .slice(0, STDOUT_LIMIT_CHARS),
    stderr: ran
      .map((s) => s.stderr)
      .join('\n')
      .slice(0, STDERR_LIMIT_CHARS),
    startedAt,
    endedAt: new Date().toISOString(),
    steps: steps.map((s) => ({
      ...s,
      stdout: s.stdout.slice(0, STDOUT_LIMIT_CHARS),
      stderr: s.stderr.slice(0, STDERR_LIMIT_CHARS),
    })),
  };
}

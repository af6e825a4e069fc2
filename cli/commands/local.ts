/**
 * `rejuv local up|down`: the embedded local environment (DynamoDB Local; SSM, SNS and Step Functions
 * endpoints; lab hosts with real QEMU VMs) held by one process, found by the others through the state
 * file. `up` stays in the foreground until Ctrl-C or `rejuv local down`; `--detach` backgrounds it.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { addFleetHost } from '../../local/lab-fleet.js';
import { startLocalEnvironment } from '../../local/local-environment.js';
import { LOCAL_REGION } from '../../local/step-functions/synthesized-workflow.js';
import { CliError, EXIT, type ExitCode } from '../exit-codes.js';
import {
  isAlive,
  LOCAL_STATE_VERSION,
  localLogFile,
  localStateFile,
  readLocalStateFile,
  rejuvHome,
  removeLocalState,
  writeLocalState,
  type LocalState,
} from '../local-state.js';
import type { Output } from '../output.js';

export interface LocalUpOptions {
  readonly hosts: number;
  readonly vms: number;
  readonly detach: boolean;
}

function refuseIfRunning(): void {
  const existing = readLocalStateFile();
  if (existing !== undefined && isAlive(existing.pid))
    throw new CliError(
      `a local environment is already running (pid ${existing.pid}); stop it with \`rejuv local down\``,
      EXIT.failed,
    );
}

export async function localUpCommand(options: LocalUpOptions, out: Output): Promise<ExitCode> {
  refuseIfRunning();
  return options.detach ? upDetached(options, out) : upInForeground(options, out);
}

async function upInForeground(options: LocalUpOptions, out: Output): Promise<ExitCode> {
  const stopped = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  out.info('starting the local environment (DynamoDB Local, SSM, SNS, Step Functions from cdk synth)');
  const env = await startLocalEnvironment({ waitMs: 200 });
  const stop = async (): Promise<void> => {
    removeLocalState(process.pid);
    await env.stop();
    await teardownOpenLabHosts();
  };
  try {
    const hosts: LocalState['hosts'] = [];
    for (let h = 1; h <= options.hosts; h++) {
      const vms = Array.from({ length: options.vms }, (_, v) => ({ name: `vm${v + 1}` }));
      const host = await addFleetHost(env, { hostId: `host-${h}`, pool: 'lab', vms });
      hosts.push({
        hostId: host.hostId,
        pool: host.pool,
        instanceId: host.instanceId,
        vms: vms.map((v) => v.name),
      });
      out.info(`host ${host.hostId} (${host.instanceId}) up with ${vms.map((v) => v.name).join(', ')}`);
    }
    const state: LocalState = {
      version: LOCAL_STATE_VERSION,
      pid: process.pid,
      startedAt: new Date().toISOString(),
      region: LOCAL_REGION,
      endpoints: {
        dynamodb: env.dynamoDb.endpoint,
        sfn: env.stepFunctions.endpoint,
        kms: env.kms.endpoint,
        s3: env.s3.endpoint,
      },
      stateMachineArn: env.stepFunctions.stateMachineArn,
      tables: env.tables,
      auditDigests: env.auditDigests,
      operatorApi: {
        url: env.operatorApi.url,
        credentials: {
          accessKeyId: env.operatorApi.operator.accessKeyId,
          secretAccessKey: env.operatorApi.operator.secretAccessKey,
        },
      },
      hosts,
    };
    writeLocalState(state);
    // The operator's secret stays in the state file (mode 600), not on the terminal.
    const { operatorApi, ...shown } = state;
    out.result(
      { status: 'ready', stateFile: localStateFile(), ...shown, operatorApiUrl: operatorApi.url },
      () =>
        [
          `ready: ${hosts.length} host(s) in pool lab; state in ${localStateFile()}`,
          'try: rejuv hosts --local | rejuv start --local --host host-1 --reason "planned" | rejuv local down',
        ].join('\n'),
    );
    const signal = await stopped;
    out.info(`${signal}: stopping the local environment`);
  } finally {
    await stop();
  }
  return EXIT.ok;
}

/** Starts `local up` as a background process and returns once its state file says it is ready. */
async function upDetached(options: LocalUpOptions, out: Output): Promise<ExitCode> {
  const script = process.argv[1];
  if (script === undefined) throw new CliError('cannot tell how this CLI was started', EXIT.failed);
  mkdirSync(rejuvHome(), { recursive: true });
  const log = openSync(localLogFile(), 'w');
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      script,
      'local',
      'up',
      '--hosts',
      String(options.hosts),
      '--vms',
      String(options.vms),
    ],
    { detached: true, stdio: ['ignore', log, log], env: process.env },
  );
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new CliError('could not start the local environment', EXIT.failed);
  const deadline = Date.now() + 180_000;
  while (Date.now() < deadline) {
    const state = readLocalStateFile();
    if (state?.pid === pid) {
      out.result(
        { status: 'ready', stateFile: localStateFile(), log: localLogFile(), ...state },
        () =>
          `local environment running in the background (pid ${pid}); log ${localLogFile()}; stop it with \`rejuv local down\``,
      );
      return EXIT.ok;
    }
    if (!isAlive(pid) || child.exitCode !== null)
      throw new CliError(`the local environment exited while starting; see ${localLogFile()}`, EXIT.failed);
    await sleep(200);
  }
  process.kill(pid, 'SIGTERM');
  throw new CliError(
    `the local environment did not become ready in 180 s; see ${localLogFile()}`,
    EXIT.failed,
  );
}

export async function localDownCommand(out: Output): Promise<ExitCode> {
  const state = readLocalStateFile();
  if (state === undefined || !isAlive(state.pid)) {
    if (state !== undefined) removeLocalState(state.pid);
    out.result({ status: 'not-running' }, () => 'no local environment is running');
    return EXIT.ok;
  }
  process.kill(state.pid, 'SIGTERM');
  const deadline = Date.now() + 60_000;
  while (isAlive(state.pid)) {
    if (Date.now() > deadline)
      throw new CliError(`the local environment (pid ${state.pid}) did not stop in 60 s`, EXIT.failed);
    await sleep(100);
  }
  removeLocalState(state.pid);
  out.result({ status: 'stopped', pid: state.pid }, () => `stopped the local environment (pid ${state.pid})`);
  return EXIT.ok;
}

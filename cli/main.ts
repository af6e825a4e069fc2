/**
 * `rejuv`: see and drive rejuvenation from a terminal. Every command takes `--json` (one JSON document
 * on stdout, progress on stderr) and exits with a code from exit-codes.ts.
 */
import { Command, CommanderError, Option } from 'commander';
import { z } from 'zod';
import { classifySdkError } from '../shared/adapters/aws/sdk-error-class.js';
import { RejuvError, ValidationError } from '../shared/domain/errors.js';
import { RELOAD_LEVELS } from '../shared/workflow/rejuvenation-request.js';
import {
  AUDIT_FORMATS,
  AuditExportOptionsSchema,
  AuditVerifyOptionsSchema,
  CampaignMoveOptionsSchema,
  CampaignStartOptionsSchema,
  ExecutionRefSchema,
  HostDeregisterOptionsSchema,
  HostInventoryOptionsSchema,
  HostRegisterOptionsSchema,
  HostReleaseOptionsSchema,
  HostsOptionsSchema,
  LocalUpOptionsSchema,
  parseOptions,
  StartOptionsSchema,
  TargetOptionsSchema,
} from './cli-options.js';
import { auditExportCommand, auditVerifyBundleCommand, auditVerifyCommand } from './commands/audit.js';
import {
  hostsDeregisterCommand,
  hostsRegisterCommand,
  hostsReleaseCommand,
  hostsSyncCommand,
} from './commands/host-admin.js';
import {
  campaignApprovalCommand,
  campaignMoveCommand,
  campaignStartCommand,
  campaignStatusCommand,
} from './commands/campaign.js';
import { hostsCommand } from './commands/hosts.js';
import { hostsInventoryCommand } from './commands/host-inventory.js';
import { HostIdSchema } from '../shared/domain/identifiers.js';
import { startCommand } from './commands/start.js';
import { statusCommand } from './commands/status.js';
import { CliError, EXIT, exitCodeOfErrorName, type ExitCode } from './exit-codes.js';
import { createOutput, type Output } from './output.js';
import { connect, type Target } from './target.js';

interface GlobalOptions {
  readonly json?: boolean;
  readonly local?: boolean;
  readonly region?: string;
  readonly profile?: string;
  readonly stack?: string;
  readonly pollMs?: string;
}

const EXIT_CODES_HELP = `
Exit codes:
  0  done, with the outcome asked for       4  no such host or execution
  1  done, but the outcome is a failure     5  coordinator unreachable (local env down, AWS, credentials)
  2  bad arguments; nothing was changed     6  the host ended QUARANTINED: a person must look at it
  3  audit verify found a broken chain      7  not authorized for the host's pool (audited)
  8  refused by where the host stands        130 interrupted (a started execution keeps running)
     (not quarantined, busy, registered)

Targets: --local for the environment of \`rejuv local up\`; otherwise the deployed stack
(--stack, default Rejuv) in --region with --profile, by the AWS SDK's usual credentials.`;

export function buildProgram(): Command {
  const program = new Command('rejuv')
    .description('Warm-VM reboot rejuvenation of virtualization hosts: start, watch and audit it.')
    .option('--json', 'print one JSON document on stdout (progress goes to stderr)')
    .option('--local', 'use the local environment started by `rejuv local up`')
    .option('--region <region>', 'AWS region of the deployed stack')
    .option('--profile <profile>', 'AWS profile to use')
    .option('--stack <name>', 'name of the deployed rejuv stack', 'Rejuv')
    .addOption(
      new Option('--poll-ms <ms>', 'how often to poll a running execution').default('1000').hideHelp(),
    )
    .addHelpText('after', EXIT_CODES_HELP)
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('start')
    .description('start operator maintenance of one host and follow it step by step')
    .requiredOption('--host <host>', 'host id')
    .requiredOption('--reason <text>', 'why, for the audit trail (1-1024 characters)')
    .addOption(new Option('--level <level>', 'what to reload').choices(RELOAD_LEVELS).default('vmm-process'))
    .option('--dry-run', 'check everything (lock, pool, preflight) and change nothing')
    .option(
      '--allow-silent-guests',
      'go ahead when a guest is already silent (no heartbeat) before anything is touched; Verify reports it without failing',
    )
    .option('--no-wait', 'return once the execution has started')
    .option('--request-id <id>', 'makes a retried start idempotent (default: a fresh id)')
    .option(
      '--break-glass-reason <text>',
      "break glass: start outside the pool's maintenance windows and despite its blocker alarms (only for principals the policy names; audited as break-glass)",
    )
    .action((opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () =>
          parseOptions(StartOptionsSchema, 'start', {
            host: opts['host'],
            reason: opts['reason'],
            level: opts['level'],
            dryRun: opts['dryRun'] === true,
            allowSilentGuests: opts['allowSilentGuests'] === true,
            wait: opts['wait'] !== false,
            ...(opts['requestId'] === undefined ? {} : { requestId: opts['requestId'] }),
            ...(opts['breakGlassReason'] === undefined ? {} : { breakGlassReason: opts['breakGlassReason'] }),
          }),
        (target, options, out, globals) => startCommand(target, options, out, pollMsOf(globals)),
      ),
    );

  program
    .command('status')
    .description(
      'recent executions, one execution (its steps and where its host stands), or one host (its state and pending requests)',
    )
    .argument('[execution-or-host]', 'execution name or ARN, or a host id')
    .action((execution: string | undefined, _opts: unknown, command: Command) =>
      run(
        command,
        () =>
          execution === undefined
            ? undefined
            : parseOptions(
                z.union([ExecutionRefSchema, HostIdSchema], {
                  error: 'not an execution name or ARN, nor a host id (1-63 chars of A-Z a-z 0-9 . _ -)',
                }),
                'status',
                execution,
              ),
        (target, ref, out) => statusCommand(target, ref, out),
      ),
    );

  const hosts = program
    .command('hosts')
    .description('every host: lifecycle state, owner, quarantine reason; and changes to the registry');
  // The listing is the default subcommand, so its --pool and `hosts register --pool` never meet.
  hosts
    .command('list', { isDefault: true })
    .description('every host: lifecycle state, owner, quarantine reason (the default)')
    .option('--pool <pool>', 'only this pool')
    .action((opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () => parseOptions(HostsOptionsSchema, 'hosts', opts),
        (target, options, out) => hostsCommand(target, options, out),
      ),
    );
  hosts
    .command('sync')
    .description(
      "register new managed instances from SSM and mark unavailable ones now (needs a grant on '*')",
    )
    .action((_opts: unknown, command: Command) =>
      run(
        command,
        () => undefined,
        (target, _options, out) => hostsSyncCommand(target, out),
      ),
    );
  hosts
    .command('register')
    .description('add a host to the registry, IN_SERVICE')
    .argument('<host>', 'host id')
    .requiredOption('--instance-id <id>', 'its SSM managed instance (i-… or mi-…)')
    .requiredOption('--pool <pool>', 'its pool')
    .option('--availability-zone <az>', 'its availability zone (default: unknown)')
    .action((host: string, opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () =>
          parseOptions(HostRegisterOptionsSchema, 'hosts register', {
            host,
            instanceId: opts['instanceId'],
            pool: opts['pool'],
            ...(opts['availabilityZone'] === undefined ? {} : { availabilityZone: opts['availabilityZone'] }),
          }),
        (target, options, out) => hostsRegisterCommand(target, options, out),
      ),
    );
  hosts
    .command('deregister')
    .description('remove a host from the registry (IN_SERVICE or QUARANTINED only); its audit chain stays')
    .argument('<host>', 'host id')
    .requiredOption('--reason <text>', 'why, for the audit trail')
    .action((host: string, opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () => parseOptions(HostDeregisterOptionsSchema, 'hosts deregister', { host, reason: opts['reason'] }),
        (target, options, out) => hostsDeregisterCommand(target, options, out),
      ),
    );
  hosts
    .command('release')
    .description('put a QUARANTINED host back in service once Preflight and Verify pass on it')
    .argument('<host>', 'host id')
    .requiredOption('--reason <text>', 'why it may go back, for the audit trail')
    .option('--force', 'release without running the checks (audited as forced)')
    .option('--request-id <id>', 'makes a retried release idempotent (default: a fresh id)')
    .action((host: string, opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () =>
          parseOptions(HostReleaseOptionsSchema, 'hosts release', {
            host,
            reason: opts['reason'],
            force: opts['force'] === true,
            ...(opts['requestId'] === undefined ? {} : { requestId: opts['requestId'] }),
          }),
        (target, options, out) => hostsReleaseCommand(target, options, out),
      ),
    );
  hosts
    .command('inventory')
    .description(
      'every VM process on the host: managed, drifted, adoptable or foreign (with why); --adopt writes inventory entries for adoptable ones',
    )
    .argument('<host>', 'host id')
    .option('--adopt <vms>', 'write inventory entries for these adoptable VMs (comma-separated census names)')
    .option('--adopt-all', 'write inventory entries for every adoptable VM')
    .option('--request-id <id>', 'makes a retried request idempotent (default: a fresh id)')
    .action((host: string, opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () =>
          parseOptions(HostInventoryOptionsSchema, 'hosts inventory', {
            host,
            adoptAll: opts['adoptAll'] === true,
            ...(opts['adopt'] === undefined ? {} : { adopt: opts['adopt'] }),
            ...(opts['requestId'] === undefined ? {} : { requestId: opts['requestId'] }),
          }),
        (target, options, out) => hostsInventoryCommand(target, options, out),
      ),
    );

  const campaign = program
    .command('campaign')
    .description(
      'rejuvenate whole pools under limits: one host workflow per host, a failure tolerance, pause, resume, cancel',
    );
  const collect = (value: string, previous: string[]) => [...previous, value];
  campaign
    .command('start')
    .description('start a campaign over hosts and/or pools (needs a grant on every pool it touches)')
    .argument('<campaign>', 'campaign id (1-40 of A-Z a-z 0-9 _ -)')
    .requiredOption('--reason <text>', 'why, for the audit trail and every host request')
    .option('--pool <pool>', 'every host of this pool (repeatable)', collect, [])
    .option('--host <host>', 'this host (repeatable)', collect, [])
    .addOption(new Option('--level <level>', 'what to reload').choices(RELOAD_LEVELS).default('vmm-process'))
    .option('--per-pool <n>', 'hosts of a pool in maintenance at once', '1')
    .option('--per-az <n>', 'hosts of an availability zone in maintenance at once (default: not limited)')
    .option('--tolerate <n|n%>', 'failed hosts tolerated before the campaign halts', '0')
    .action((campaignId: string, opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () =>
          parseOptions(CampaignStartOptionsSchema, 'campaign start', {
            campaignId,
            reason: opts['reason'],
            hosts: opts['host'],
            pools: opts['pool'],
            level: opts['level'],
            perPool: opts['perPool'],
            ...(opts['perAz'] === undefined ? {} : { perAz: opts['perAz'] }),
            tolerate: opts['tolerate'],
          }),
        (target, options, out) => campaignStartCommand(target, options, out),
      ),
    );
  campaign
    .command('status')
    .description(
      'where a campaign stands, host by host, and its approval (exit 1 when it halted, was cancelled or rejected)',
    )
    .argument('<campaign>', 'campaign id')
    .action((campaignId: string, _opts: unknown, command: Command) =>
      run(
        command,
        () => parseOptions(CampaignMoveOptionsSchema, 'campaign status', { campaignId }),
        (target, options, out) => campaignStatusCommand(target, options, out),
      ),
    );
  for (const [move, description] of [
    ['pause', 'start no more hosts; those in flight finish'],
    ['resume', 'start hosts again; hosts already done are skipped'],
    ['cancel', 'start no more hosts; those in flight finish (or compensate), then the campaign ends'],
  ] as const) {
    campaign
      .command(move)
      .description(description)
      .argument('<campaign>', 'campaign id')
      .option('--reason <text>', 'why, for the audit trail')
      .action((campaignId: string, opts: Record<string, unknown>, command: Command) =>
        run(
          command,
          () =>
            parseOptions(CampaignMoveOptionsSchema, `campaign ${move}`, {
              campaignId,
              ...(opts['reason'] === undefined ? {} : { reason: opts['reason'] }),
            }),
          (target, options, out) => campaignMoveCommand(target, move, options, out),
        ),
      );
  }

  for (const [move, description] of [
    [
      'approve',
      'approve a campaign that awaits approval (another operator than its starter, with a grant on every pool of it)',
    ],
    ['reject', 'reject a campaign that awaits approval: it ends, no host started (--reason required)'],
  ] as const) {
    const command = campaign.command(move).description(description).argument('<campaign>', 'campaign id');
    if (move === 'reject')
      command.requiredOption('--reason <text>', 'why, for the audit trail and the status');
    else command.option('--reason <text>', 'why (e.g. the change ticket), for the audit trail');
    command.action((campaignId: string, opts: Record<string, unknown>, cmd: Command) =>
      run(
        cmd,
        () =>
          parseOptions(CampaignMoveOptionsSchema, `campaign ${move}`, {
            campaignId,
            ...(opts['reason'] === undefined ? {} : { reason: opts['reason'] }),
          }),
        (target, options, out) => campaignApprovalCommand(target, move, options, out),
      ),
    );
  }

  const audit = program.command('audit').description('the hash-chained audit trail');
  audit
    .command('export')
    .description(
      'write audit records to stdout, chain by chain, in sequence order; or a bundle an auditor verifies offline',
    )
    .addOption(new Option('--format <format>', 'output format, to stdout').choices(AUDIT_FORMATS))
    .option(
      '--bundle <dir>',
      'instead: write the whole trail, the signed digests and the public key to this new directory',
    )
    .option('--host <host>', 'only this host (not with --bundle)')
    .option('--since <instant>', 'only records at or after this ISO 8601 instant (not with --bundle)')
    .action((opts: Record<string, unknown>, command: Command) =>
      run(
        command,
        () => parseOptions(AuditExportOptionsSchema, 'audit export', opts),
        (target, options, out) => auditExportCommand(target, options, out),
      ),
    );
  audit
    .command('verify')
    .description(
      'recompute every chain, check every record against the signed digests, name each finding (exit 3 if any)',
    )
    .option('--host <host>', 'only this host (the digests are checked in full)')
    .option(
      '--public-key <file>',
      "verify the digests with this PEM public key, the one you hold, instead of KMS's (or the bundle's)",
    )
    .option('--bundle <dir>', 'verify a bundle `audit export --bundle` wrote: offline, no AWS call at all')
    .option(
      '--seal-interval <minutes>',
      "minutes between scheduled seals, instead of the stack's output AuditSealIntervalSeconds or the bundle's manifest",
    )
    .action((opts: Record<string, unknown>, command: Command) => {
      const parse = () => parseOptions(AuditVerifyOptionsSchema, 'audit verify', opts);
      const bundle = typeof opts['bundle'] === 'string' ? opts['bundle'] : undefined;
      return bundle === undefined
        ? run(command, parse, (target, options, out) => auditVerifyCommand(target, options, out))
        : runWithoutTarget(command, async (out) => {
            const options = parse();
            return auditVerifyBundleCommand({ ...options, bundle: options.bundle ?? bundle }, out);
          });
    });

  const local = program.command('local').description('the embedded local environment');
  local
    .command('up')
    .description('start DynamoDB Local, the local endpoints and lab hosts with QEMU VMs; Ctrl-C stops them')
    .option('--hosts <n>', 'lab hosts to start (1-6)', '2')
    .option('--vms <n>', 'VMs per host (1-4)', '2')
    .option('--detach', 'run in the background and return once ready')
    .action((opts: Record<string, unknown>, command: Command) =>
      runWithoutTarget(command, async (out) => {
        const options = parseOptions(LocalUpOptionsSchema, 'local up', {
          ...opts,
          detach: opts['detach'] === true,
        });
        // Imported here: it loads the whole local environment (the CDK app, the local Step Functions
        // interpreter, the lab), which every other command and --help would otherwise wait for.
        const { localUpCommand } = await import('./commands/local.js');
        return localUpCommand(options, out);
      }),
    );
  local
    .command('down')
    .description('stop the local environment and everything it started')
    .action((_opts: unknown, command: Command) =>
      runWithoutTarget(command, async (out) => {
        const { localDownCommand } = await import('./commands/local.js');
        return localDownCommand(out);
      }),
    );

  return program;
}

function pollMsOf(globals: GlobalOptions): number {
  const ms = Number(globals.pollMs ?? '1000');
  if (!Number.isInteger(ms) || ms < 50 || ms > 60_000)
    throw new ValidationError('options', ['poll-ms: an integer from 50 to 60000']);
  return ms;
}

/** The exit code of the command that ran; set by `run`. */
let exitCode: ExitCode = EXIT.ok;

/** For the commands that need no coordinator to talk to: `local up|down`. */
async function runWithoutTarget(command: Command, body: (out: Output) => Promise<ExitCode>): Promise<void> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  exitCode = await body(createOutput(globals.json === true));
}

/**
 * Every option is checked (`parse`) before anything is contacted, so bad input changes nothing and
 * does not even need a reachable coordinator.
 */
async function run<T>(
  command: Command,
  parse: () => T,
  body: (target: Target, options: T, out: Output, globals: GlobalOptions) => Promise<ExitCode>,
): Promise<void> {
  const globals = command.optsWithGlobals<GlobalOptions>();
  const out = createOutput(globals.json === true);
  const targetOptions = parseOptions(TargetOptionsSchema, 'target', {
    local: globals.local === true,
    ...(globals.region === undefined ? {} : { region: globals.region }),
    ...(globals.profile === undefined ? {} : { profile: globals.profile }),
    ...(globals.stack === undefined ? {} : { stack: globals.stack }),
  });
  pollMsOf(globals);
  const options = parse();
  const target = await connect(targetOptions);
  try {
    if (globals.json !== true) process.stderr.write(`rejuv: ${target.description}\n`);
    exitCode = await body(target, options, out, globals);
  } finally {
    target.close();
  }
}

/**
 * Maps any failure to one line on stderr (or a JSON error object) and its exit code: a rejuv error by
 * its kind in the one classification, an AWS fault the SDK gave up on as the coordinator unavailable.
 */
export function exitCodeForError(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (error instanceof RejuvError) return exitCodeOfErrorName(error.name) ?? EXIT.failed;
  if (isUnreachable(error)) return EXIT.unavailable;
  return EXIT.failed;
}

/** Credentials missing or refused: the coordinator cannot be reached with them. */
const CREDENTIAL_ERRORS: ReadonlySet<string> = new Set([
  'CredentialsProviderError',
  'UnrecognizedClientException',
  'ExpiredTokenException',
]);

function isUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return (
    classifySdkError(error).kind === 'unavailable' ||
    CREDENTIAL_ERRORS.has(error.name) ||
    (error instanceof AggregateError && error.errors.some(isUnreachable))
  );
}

export async function main(argv: readonly string[]): Promise<ExitCode> {
  const program = buildProgram();
  const json = argv.includes('--json');
  exitCode = EXIT.ok;
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has printed the usage error (or the help, which is not an error).
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    const code = exitCodeForError(error);
    const message = error instanceof Error ? error.message : String(error);
    if (json)
      process.stdout.write(`${JSON.stringify({ error: { code, name: (error as Error).name, message } })}\n`);
    process.stderr.write(`rejuv: ${message}\n`);
    return code;
  }
}

/**
 * How the CLI finds a running local environment: `rejuv local up` writes one state file with the
 * endpoints of the servers it holds, and removes it when it stops; every other command reads it.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { describeIssues } from '../shared/domain/validation.js';
import { CliError, EXIT } from './exit-codes.js';

const EndpointSchema = z.url({ protocol: /^http$/, hostname: /^(127\.0\.0\.1|localhost|\[::1\])$/ });

/** Written and read by the same CLI: an environment started by another version is named as such. */
export const LOCAL_STATE_VERSION = 3;

export const LocalStateSchema = z
  .object({
    version: z.literal(LOCAL_STATE_VERSION),
    pid: z.number().int().positive(),
    startedAt: z.iso.datetime(),
    region: z.string().min(1).max(32),
    endpoints: z
      .object({ dynamodb: EndpointSchema, sfn: EndpointSchema, kms: EndpointSchema, s3: EndpointSchema })
      .strict(),
    stateMachineArn: z.string().startsWith('arn:'),
    tables: z
      .object({
        hosts: z.string().min(3).max(255),
        leases: z.string().min(3).max(255),
        audit: z.string().min(3).max(255),
        idempotency: z.string().min(3).max(255),
        campaigns: z.string().min(3).max(255),
        pending: z.string().min(3).max(255),
      })
      .strict(),
    /** The digest bucket and signing key, as the stack outputs AuditDigestBucketName and AuditDigestKeyArn. */
    auditDigests: z
      .object({
        bucketName: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'bucketName: an S3 bucket name'),
        keyArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/, 'keyArn: a KMS key ARN'),
        /** Absent from a state file written before it existed: the construct's default applies. */
        sealIntervalSeconds: z.number().int().positive().optional(),
      })
      .strict(),
    /** The local function URL of the operator API, and the credentials of the local operator it lets in. */
    operatorApi: z.strictObject({
      url: EndpointSchema,
      credentials: z.strictObject({
        accessKeyId: z.string().regex(/^AKIA[A-Z0-9]{12,20}$/, 'accessKeyId: an IAM user access key id'),
        secretAccessKey: z.string().min(16).max(128),
      }),
    }),
    hosts: z.array(
      z
        .object({ hostId: z.string(), pool: z.string(), instanceId: z.string(), vms: z.array(z.string()) })
        .strict(),
    ),
  })
  .strict();
export type LocalState = z.output<typeof LocalStateSchema>;

/** `$REJUV_HOME` (default `~/.rejuv`) holds the state file and the detached environment's log. */
export function rejuvHome(): string {
  return process.env['REJUV_HOME'] ?? join(homedir(), '.rejuv');
}

export function localStateFile(): string {
  return join(rejuvHome(), 'local.json');
}

export function localLogFile(): string {
  return join(rejuvHome(), 'local.log');
}

/** Written whole or not at all: a reader never sees half a file. */
export function writeLocalState(state: LocalState): void {
  const file = localStateFile();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(`${file}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}

/** Removes the state file only if it is still this process's. */
export function removeLocalState(pid: number): void {
  const current = readLocalStateFile();
  if (current?.pid === pid) rmSync(localStateFile(), { force: true });
}

/** The state file as written, or undefined when there is none; a corrupt one is an error. */
export function readLocalStateFile(): LocalState | undefined {
  let text: string;
  try {
    text = readFileSync(localStateFile(), 'utf8');
  } catch {
    return undefined;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(
      `${localStateFile()} is not JSON; remove it and run \`rejuv local up\``,
      EXIT.unavailable,
    );
  }
  const written = json as { version?: unknown; pid?: unknown } | null;
  if (
    typeof written?.version === 'number' &&
    written.version !== LOCAL_STATE_VERSION &&
    typeof written.pid === 'number'
  )
    throw new CliError(
      `${localStateFile()} was written by another version of rejuv (state version ${written.version}, pid ${written.pid}); stop that environment with \`kill ${written.pid}\`, remove the file and run \`rejuv local up\``,
      EXIT.unavailable,
    );
  const parsed = LocalStateSchema.safeParse(json);
  if (!parsed.success)
    throw new CliError(
      `${localStateFile()} is not a local environment state file (${describeIssues(parsed.error).join('; ')}); remove it and run \`rejuv local up\``,
      EXIT.unavailable,
    );
  return parsed.data;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running local environment; a missing or stale one is reported as unavailable. */
export function runningLocalState(): LocalState {
  const state = readLocalStateFile();
  if (state === undefined)
    throw new CliError('no local environment is running; start one with `rejuv local up`', EXIT.unavailable);
  if (!isAlive(state.pid))
    throw new CliError(
      `the local environment (pid ${state.pid}) is gone; start one with \`rejuv local up\``,
      EXIT.unavailable,
    );
  return state;
}

/**
 * The `rejuv` CLI as an operator runs it: a separate process per command (bin/rejuv.js), against a
 * local environment that `rejuv local up --detach` started and `rejuv local down` stops.
 */
import { execFile, execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalStateSchema, type LocalState } from '../../cli/local-state.js';
import { localDynamoDbClient } from '../../local/dynamodb-local.js';
import { createDocumentClient } from '../../shared/adapters/dynamodb/document-client.js';
import { AUDIT_CSV_COLUMNS } from '../../shared/domain/audit-csv.js';
import { AuditRecordSchema, sealRecord, type AuditRecord } from '../../shared/domain/audit-record.js';

const BIN = resolve(import.meta.dirname, '..', '..', 'bin', 'rejuv.js');
const home = mkdtempSync(join(tmpdir(), 'rejuv-cli-'));
let state: LocalState;

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

async function rejuv(...args: string[]): Promise<Run> {
  return rejuvWith({}, ...args);
}

async function rejuvWith(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: { ...process.env, REJUV_HOME: home, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** A command against the local environment, with fast polling. */
const local = (...args: string[]) => rejuv('--local', '--poll-ms', '100', ...args);
const localJson = async (...args: string[]) => {
  const run = await local('--json', ...args);
  return { ...run, json: JSON.parse(run.stdout) as Record<string, unknown> };
};

/** What a bad command must not change: hosts, executions and the audit trail. */
async function snapshot(): Promise<string> {
  const hosts = await localJson('hosts');
  const executions = await localJson('status');
  const audit = await local('audit', 'export', '--format', 'jsonl');
  return JSON.stringify([hosts.json, executions.json, audit.stdout]);
}

/** The sealer runs when an execution ends, asynchronously: wait until it has sealed every record so far. */
async function sealedTrail(): Promise<{ code: number; json: Record<string, unknown> }> {
  let verdict = await localJson('audit', 'verify');
  for (let i = 0; i < 150; i++) {
    const chains = verdict.json['chains'] as { length: number; sealedThrough: number }[];
    if (chains.length > 0 && chains.every((c) => c.sealedThrough === c.length)) break;
    await sleep(200);
    verdict = await localJson('audit', 'verify');
  }
  return verdict;
}

/** The openssl recipe of docs/audit.md, run by bash in `cwd` (it enters `audit-bundle`). */
function opensslRecipe(cwd: string): { status: number; stdout: string } {
  const script = /<!-- audit-openssl:begin -->\n```bash\n([\s\S]*?)```\n<!-- audit-openssl:end -->/.exec(
    readFileSync(resolve(import.meta.dirname, '..', '..', 'docs', 'audit.md'), 'utf8'),
  )?.[1];
  if (script === undefined) throw new Error('docs/audit.md has no openssl verification block');
  try {
    return { status: 0, stdout: execFileSync('bash', ['-c', script], { cwd, encoding: 'utf8' }) };
  } catch (error) {
    const e = error as { status?: number; stdout?: string };
    return { status: e.status ?? -1, stdout: e.stdout ?? '' };
  }
}

beforeAll(async () => {
  const up = await rejuv('local', 'up', '--detach', '--hosts', '2', '--vms', '1');
  expect(up, up.stderr).toMatchObject({ code: 0 });
  state = LocalStateSchema.parse(JSON.parse(readFileSync(join(home, 'local.json'), 'utf8')));
});

afterAll(async () => {
  await rejuv('local', 'down');
  rmSync(home, { recursive: true, force: true });
});

describe('rejuv CLI against the local environment', () => {
  it('has --help on every command, listing its options and the exit codes', async () => {
    const top = await rejuv('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/Exit codes:[\s\S]*3 {2}audit verify found a broken chain/);
    for (const [command, option] of [
      [['start'], '--dry-run'],
      [['status'], '[execution-or-host]'],
      [['hosts'], 'register'],
      [['hosts', 'list'], '--pool'],
      [['hosts', 'release'], '--force'],
      [['audit', 'export'], '--format'],
      [['audit', 'verify'], '--public-key'],
      [['audit', 'verify'], '--bundle'],
      [['audit', 'export'], '--bundle'],
      [['local', 'up'], '--detach'],
      [['local', 'down'], 'stop the local environment'],
    ] as const) {
      const help = await rejuv(...command, '--help');
      expect({ command, code: help.code }).toEqual({ command, code: 0 });
      expect(help.stdout).toContain(option);
    }
  });

  it('lists the hosts, all of them or one pool', async () => {
    const all = await localJson('hosts');
    expect(all.code).toBe(0);
    const hosts = all.json['hosts'] as { hostId: string; state: string; pool: string }[];
    expect(hosts.map((h) => [h.hostId, h.pool, h.state])).toEqual([
      ['host-1', 'lab', 'IN_SERVICE'],
      ['host-2', 'lab', 'IN_SERVICE'],
    ]);
    expect((await localJson('hosts', '--pool', 'elsewhere')).json).toEqual({
      hosts: [],
      pending: [],
      dropped: [],
    });
    const table = await local('hosts', '--pool', 'lab');
    expect(table.stdout.split('\n')[0]).toMatch(/^HOST\s+POOL\s+STATE/);
    expect(table.stdout).toMatch(/host-2\s+lab\s+IN_SERVICE/);
  });

  it('start: rejuvenates a host, showing each step as it begins, and records who asked', async () => {
    const run = await local('start', '--host', 'host-1', '--reason', 'planned: hypervisor uptime 180 days');
    expect(run.code, run.stderr).toBe(0);
    const steps = run.stdout
      .split('\n')
      .map((l) => /^\s+\+\d+\.\ds {2}(\w+)$/.exec(l)?.[1])
      .filter((s) => s !== undefined);
    expect(steps).toEqual([
      'Admit',
      'Preflight',
      'Drain',
      'WarmReboot',
      'AwaitHost',
      'Verify',
      'Undrain',
      'Release',
    ]);
    expect(run.stdout).toMatch(/host-1 rejuvenated \(SUCCEEDED\); host is IN_SERVICE/);

    const records = (await local('audit', 'export', '--format', 'jsonl', '--host', 'host-1')).stdout
      .trim()
      .split('\n')
      .map((l) => AuditRecordSchema.parse(JSON.parse(l)));
    expect(records.at(-1)).toMatchObject({ step: 'Release', outcome: 'succeeded', trigger: 'operator' });
    // Who signed the request, as the function URL authenticated it: the local operator, an IAM user.
    expect(new Set(records.map((r) => r.principal))).toEqual(
      new Set([expect.stringMatching(/^arn:aws:iam::000000000000:user\/[\w+=,.@-]+$/)]),
    );
    expect(records[0]?.reason).toBe('planned: hypervisor uptime 180 days');
  });

  it('start --dry-run: checks everything, moves nothing, and says so', async () => {
    const before = (await localJson('hosts')).json;
    const run = await localJson('start', '--host', 'host-2', '--reason', 'will it work?', '--dry-run');
    expect(run.code, run.stderr).toBe(0);
    expect(run.json).toMatchObject({
      status: 'started',
      hostId: 'host-2',
      execution: { status: 'SUCCEEDED', outcome: 'dry-run' },
      host: { state: 'IN_SERVICE' },
    });
    expect(String(run.json['executionName'])).toMatch(/^dryrun-host-2-/);
    // The host's record did not move (same version): a dry run transitions nothing.
    expect((await localJson('hosts')).json).toEqual(before);
    expect(run.stderr).toMatch(/Preflight/);
  });

  it('start --no-wait returns at once; status follows the execution; a repeated request id starts nothing new', async () => {
    const first = await localJson(
      'start',
      '--host',
      'host-2',
      '--reason',
      'r',
      '--no-wait',
      '--request-id',
      'ticket-42',
    );
    expect(first.code, first.stderr).toBe(0);
    expect(first.json).toMatchObject({ status: 'started', hostId: 'host-2', requestId: 'ticket-42' });
    const name = String(first.json['executionName']);
    const again = await localJson(
      'start',
      '--host',
      'host-2',
      '--reason',
      'r',
      '--no-wait',
      '--request-id',
      'ticket-42',
    );
    expect(again.json).toMatchObject({ status: 'duplicate', executionName: name });

    let status: Record<string, unknown> = {};
    for (let i = 0; i < 100; i++) {
      status = (await localJson('status', name)).json;
      if ((status['execution'] as { status: string }).status !== 'RUNNING') break;
      await sleep(200);
    }
    expect(status).toMatchObject({
      execution: { name, status: 'SUCCEEDED', outcome: 'rejuvenated', hostId: 'host-2', trigger: 'operator' },
      host: { hostId: 'host-2', state: 'IN_SERVICE' },
    });
    const steps = (status['execution'] as { steps: { step: string }[] }).steps.map((s) => s.step);
    expect(steps[0]).toBe('Admit');
    expect(steps.at(-1)).toBe('Release');

    const list = await localJson('status');
    const names = (list.json['executions'] as { name: string }[]).map((e) => e.name);
    expect(names.filter((n) => n === name)).toHaveLength(1);
    expect(names.length).toBe(3);
  });

  it('names what does not exist with exit 4', async () => {
    expect((await local('status', 'op-nothing-here')).code).toBe(4);
    const start = await local('start', '--host', 'host-99', '--reason', 'r');
    expect(start.code).toBe(4);
    expect(start.stderr).toMatch(/host host-99 is not registered/);
    expect((await local('audit', 'verify', '--host', 'host-99')).code).toBe(4);
    expect((await local('hosts', 'release', 'host-99', '--reason', 'r')).code).toBe(4);
    expect((await local('hosts', 'deregister', 'host-99', '--reason', 'r')).code).toBe(4);
  });

  it('exports the audit trail as JSON Lines and as CSV, with the same records', async () => {
    const jsonl = await local('audit', 'export', '--format', 'jsonl');
    expect(jsonl.code).toBe(0);
    const records = jsonl.stdout
      .trim()
      .split('\n')
      .map((l) => AuditRecordSchema.parse(JSON.parse(l)));
    expect(new Set(records.map((r) => r.chainId))).toEqual(new Set(['host#host-1', 'host#host-2']));

    const csv = await local('audit', 'export', '--format', 'csv');
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe(AUDIT_CSV_COLUMNS.join(','));
    // Each record's hash ends its row; detail cells may hold quoted commas but never a newline here.
    expect(lines.slice(1).map((l) => l.split(',').at(-1))).toEqual(records.map((r) => r.hash));

    const future = await local('audit', 'export', '--format', 'jsonl', '--since', '2999-01-01T00:00:00Z');
    expect(future).toMatchObject({ code: 0, stdout: '' });
    const oneHost = await local('audit', 'export', '--format', 'jsonl', '--host', 'host-2');
    expect(oneHost.stdout.trim().split('\n')).toHaveLength(
      records.filter((r) => r.chainId === 'host#host-2').length,
    );
  });

  it('bad arguments: a usage error (exit 2) naming the problem, and nothing changes', async () => {
    const before = await snapshot();
    const bad: [string[], RegExp][] = [
      [['start', '--reason', 'r'], /required option '--host <host>'/],
      [['start', '--host', 'host-1'], /required option '--reason <text>'/],
      [['start', '--host', 'host-1;reboot', '--reason', 'r'], /host id/],
      [['start', '--host', '../../etc', '--reason', 'r'], /host id/],
      [['start', '--host', 'host-1', '--reason', '   '], /reason must not be empty/],
      [['start', '--host', 'host-1', '--reason', 'x'.repeat(1025)], /at most 1024/],
      [
        ['start', '--host', 'host-1', '--reason', 'r', '--level', 'firmware'],
        /Allowed choices are vmm-process, kernel/,
      ],
      [['start', '--host', 'host-1', '--reason', 'r', '--request-id', '$(id)'], /request id/],
      [['start', '--host', 'host-1', '--reason', 'r', '--frobnicate'], /unknown option '--frobnicate'/],
      [['status', 'exec;rm -rf /'], /execution/],
      [['hosts', '--pool', 'a b'], /pool id/],
      [['audit', 'export'], /required option '--format <format>'/],
      [['audit', 'export', '--format', 'xml'], /Allowed choices are jsonl, csv/],
      [['audit', 'export', '--format', 'csv', '--since', 'yesterday'], /since/],
      [['audit', 'verify', '--host', '\u202ehost-1'], /host id/],
      [
        ['audit', 'export', '--format', 'csv', '--bundle', join(home, 'b')],
        /--format <format>' .* or '--bundle <dir>', not both/,
      ],
      [
        ['audit', 'export', '--bundle', join(home, 'b'), '--host', 'host-1'],
        /a bundle holds the whole trail/,
      ],
      [['audit', 'export', '--bundle', ''], /bundle: a path/],
      [
        ['audit', 'verify', '--public-key', join(home, 'no-such.pem')],
        /public key .*no-such.pem: cannot be read/,
      ],
      [['audit', 'verify', '--public-key', BIN], /public key .*: not a PEM public key/],
      [['--region', 'mars', 'hosts'], /region/],
      [['--poll-ms', '0', 'hosts'], /poll-ms/],
      [['launch'], /unknown command 'launch'/],
      [['hosts', 'register', 'h1', '--pool', 'lab'], /required option '--instance-id <id>'/],
      [['hosts', 'register', 'h1', '--instance-id', 'i-$(reboot)', '--pool', 'lab'], /instance id/],
      [['hosts', 'register', 'h;1', '--instance-id', 'i-0123456789abcdef0', '--pool', 'lab'], /host id/],
      [['hosts', 'deregister', 'host-1'], /required option '--reason <text>'/],
      [['hosts', 'release', 'host-1'], /required option '--reason <text>'/],
      [['hosts', 'release', 'host-1', '--reason', ' ', '--force'], /reason must not be empty/],
      [['hosts', 'release', 'host-1', '--reason', 'r', '--request-id', 'a b'], /request id/],
    ];
    for (const [args, message] of bad) {
      const run = await local(...args);
      expect({ args, code: run.code }).toEqual({ args, code: 2 });
      expect(run.stderr).toMatch(message);
    }
    const upTooMany = await rejuv('local', 'up', '--hosts', '99');
    expect(upTooMany.code).toBe(2);
    expect(await snapshot()).toBe(before);
  });

  it('audit verify checks every record against the signed digests; export --bundle verifies offline, with rejuv and with openssl alone', async () => {
    const sealed = await sealedTrail();
    expect(sealed.code).toBe(0);
    expect(sealed.json).toMatchObject({
      verified: true,
      digests: {
        count: expect.any(Number),
        latest: { seq: expect.any(Number) },
        publicKey: { source: 'kms' },
      },
      findings: [],
    });
    const human = await local('audit', 'verify');
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/host#host-1\s+\d+\s+intact, sealed through \d+/);
    expect(human.stdout).toMatch(/^signed digests: \d+, the latest \d+ sealed the trail at \S+Z$/m);
    expect(human.stdout).toMatch(/^public key sha256 [0-9a-f]{64} \(from KMS\)$/m);

    const dir = join(home, 'audit-bundle');
    const exported = await localJson('audit', 'export', '--bundle', dir);
    expect(exported.code, exported.stderr).toBe(0);
    expect(exported.json).toMatchObject({ bundle: dir, chains: 2, digests: expect.any(Number) });
    expect(exported.json['publicKeySha256']).toBe(
      (sealed.json['digests'] as { publicKey: { sha256: string } }).publicKey.sha256,
    );
    const again = await local('audit', 'export', '--bundle', dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty/);

    // No environment and no AWS: a state file nobody holds and an endpoint that answers nothing.
    const offline = (...args: string[]) =>
      rejuvWith(
        {
          REJUV_HOME: join(home, 'nowhere'),
          AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
          AWS_REGION: 'eu-west-1',
        },
        '--json',
        'audit',
        'verify',
        '--bundle',
        dir,
        ...args,
      );
    const intact = await offline();
    expect(intact.code, intact.stderr).toBe(0);
    expect(JSON.parse(intact.stdout)).toMatchObject({
      verified: true,
      digests: { count: exported.json['digests'], publicKey: { source: 'bundle' } },
    });
    expect(opensslRecipe(home)).toMatchObject({ status: 0 });

    const auditorKey = join(home, 'auditor.pem');
    writeFileSync(auditorKey, readFileSync(join(dir, 'public-key.pem')));
    expect((await offline('--public-key', auditorKey)).code).toBe(0);
    const otherKey = join(home, 'other.pem');
    writeFileSync(
      otherKey,
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const wrongKey = await rejuv('audit', 'verify', '--bundle', dir, '--public-key', otherKey);
    expect(wrongKey.code).toBe(3);
    expect(wrongKey.stdout).toMatch(
      /^digest 1 \(audit-digests\/0000000001\.json\) is not signed by the audit key$/m,
    );

    // One sealed record of host-1 edited in the export: rejuv names it, openssl's recipe refuses it.
    const file = join(dir, 'records.jsonl');
    const original = readFileSync(file, 'utf8');
    writeFileSync(
      file,
      original
        .split('\n')
        .map((l) => {
          if (l === '') return l;
          const r = JSON.parse(l) as { chainId: string; seq: number };
          return r.chainId === 'host#host-1' && r.seq === 2
            ? JSON.stringify({ ...r, principal: 'mallory' })
            : l;
        })
        .join('\n'),
    );
    const tampered = await rejuv('audit', 'verify', '--bundle', dir);
    expect(tampered.code).toBe(3);
    expect(tampered.stdout).toMatch(
      /^host host-1: record 2 was altered: it is not the record digest \d+ sealed/m,
    );
    expect(tampered.stdout).toMatch(/host#host-1\s+\d+\s+BROKEN: record 2 was altered/);
    expect(opensslRecipe(home)).toMatchObject({ status: 1 });

    writeFileSync(file, `${original}{not json\n`);
    const damaged = await rejuv('audit', 'verify', '--bundle', dir);
    expect(damaged.code).toBe(3);
    expect(damaged.stderr).toMatch(/the bundle is damaged: audit bundle records.jsonl: line \d+ is not JSON/);
    writeFileSync(file, original);

    const missing = await rejuv('audit', 'verify', '--bundle', join(home, 'no-such-bundle'));
    expect(missing.code).toBe(2);
    mkdirSync(join(home, 'empty'));
    expect((await rejuv('audit', 'verify', '--bundle', join(home, 'empty'))).code).toBe(2);
  });

  it('audit verify: intact trail exits 0; a record edited behind its back exits 3 naming the broken link', async () => {
    const intact = await localJson('audit', 'verify');
    expect(intact.code).toBe(0);
    expect(intact.json).toMatchObject({ verified: true });

    const client = localDynamoDbClient(state.endpoints.dynamodb);
    try {
      await createDocumentClient(client).send(
        new UpdateCommand({
          TableName: state.tables.audit,
          Key: { chainId: 'host#host-2', seq: 2 },
          UpdateExpression: 'SET principal = :p',
          ExpressionAttributeValues: { ':p': 'mallory' },
          ConditionExpression: 'attribute_exists(chainId)',
        }),
      );
    } finally {
      client.destroy();
    }
    const broken = await localJson('audit', 'verify');
    expect(broken.code).toBe(3);
    expect(broken.json).toMatchObject({
      verified: false,
      chains: expect.arrayContaining([
        expect.objectContaining({ chainId: 'host#host-1', ok: true }),
        expect.objectContaining({
          chainId: 'host#host-2',
          ok: false,
          firstBreak: { kind: 'hash-mismatch', seq: 2 },
          description: 'record 2 was altered (its hash does not match its content)',
        }),
      ]),
    });
    expect((await local('audit', 'verify', '--host', 'host-1')).code).toBe(0);
    expect((await local('audit', 'verify')).stdout).toMatch(
      /host#host-2\s+\d+\s+BROKEN: record 2 was altered/,
    );
  });

  it('audit verify: a sealed record edited and re-sealed, the chain re-linked and its head moved, exits 3 naming host and record', async () => {
    const records = (await local('audit', 'export', '--format', 'jsonl', '--host', 'host-1')).stdout
      .trim()
      .split('\n')
      .map((l) => AuditRecordSchema.parse(JSON.parse(l)));
    // An insider with write access to the table and the project's own hash functions.
    const forged: AuditRecord[] = [];
    let prevHash = records[0]?.hash ?? '';
    for (const r of records.slice(1)) {
      const { hash: _hash, ...unsealed } = r;
      const f = sealRecord({ ...unsealed, prevHash, ...(r.seq === 2 ? { principal: 'mallory' } : {}) });
      forged.push(f);
      prevHash = f.hash;
    }
    const client = localDynamoDbClient(state.endpoints.dynamodb);
    try {
      const documents = createDocumentClient(client);
      for (const f of forged)
        await documents.send(
          new PutCommand({ TableName: state.tables.audit, Item: { ...f, kind: 'record' } }),
        );
      await documents.send(
        new PutCommand({
          TableName: state.tables.audit,
          Item: { chainId: 'host#host-1', seq: 0, kind: 'head', lastSeq: records.length, lastHash: prevHash },
        }),
      );
    } finally {
      client.destroy();
    }
    const verdict = await localJson('audit', 'verify', '--host', 'host-1');
    expect(verdict.code).toBe(3);
    expect(verdict.json).toMatchObject({
      verified: false,
      chains: [
        {
          chainId: 'host#host-1',
          host: 'host-1',
          ok: false,
          description: expect.stringMatching(/^record 2 was altered: it is not the record digest \d+ sealed/),
        },
      ],
      findings: [{ kind: 'record-altered', chainId: 'host#host-1', host: 'host-1', seq: 2 }],
    });
    // The hash chain alone no longer shows it: only the digests do.
    expect((verdict.json['chains'] as { firstBreak?: unknown }[])[0]?.firstBreak).toBeUndefined();
    const human = await local('audit', 'verify');
    expect(human.code).toBe(3);
    expect(human.stdout).toMatch(
      /^host host-1: record 2 was altered: it is not the record digest \d+ sealed \(rewritten and re-hashed\)$/m,
    );
    expect(human.stdout).toMatch(/^host host-2: record 2 was altered: its content does not match its hash$/m);
  });

  // After the audit tests: the chain this leaves is sealed only by the schedule, not by an execution's end.
  it('hosts register, release and deregister go through the operator API, audited under the signer', async () => {
    const before = await snapshot();
    // A host that is not quarantined cannot be released: exit 8, nothing written.
    const notQuarantined = await localJson('hosts', 'release', 'host-2', '--reason', 'looks fine');
    expect(notQuarantined.code, notQuarantined.stderr).toBe(8);
    expect(notQuarantined.json).toMatchObject({ error: { code: 8 } });
    expect(notQuarantined.stderr).toMatch(/HostNotQuarantinedError: host host-2 is IN_SERVICE/);
    // A taken host id: exit 8, nothing written.
    const taken = await local(
      'hosts',
      'register',
      'host-2',
      '--instance-id',
      'mi-00000000000000abc',
      '--pool',
      'lab',
    );
    expect(taken.code, taken.stderr).toBe(8);
    expect(await snapshot()).toBe(before);

    const registered = await localJson(
      'hosts',
      'register',
      'cli-new-1',
      '--instance-id',
      'mi-00000000000000abc',
      '--pool',
      'spare',
    );
    expect(registered.code, registered.stderr).toBe(0);
    expect(registered.json).toMatchObject({
      action: 'register',
      principal: expect.stringMatching(/^arn:aws:iam::000000000000:user\//),
    });
    expect((await localJson('hosts', '--pool', 'spare')).json['hosts']).toEqual([
      expect.objectContaining({ hostId: 'cli-new-1', state: 'IN_SERVICE', availabilityZone: 'unknown' }),
    ]);
    const removed = await local('hosts', 'deregister', 'cli-new-1', '--reason', 'registered by mistake');
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/deregistered cli-new-1 as arn:aws:iam::000000000000:user\//);
    const chain = (await local('audit', 'export', '--format', 'jsonl', '--host', 'cli-new-1')).stdout
      .trim()
      .split('\n')
      .map((l) => AuditRecordSchema.parse(JSON.parse(l)));
    expect(chain.map((r) => `${r.step}:${r.outcome}`)).toEqual([
      'RegisterHost:started',
      'RegisterHost:succeeded',
      'DeregisterHost:started',
      'DeregisterHost:succeeded',
    ]);
    expect(chain.at(-1)?.reason).toBe('registered by mistake');
  });

  it('local down stops everything; then commands report the coordinator unreachable (exit 5)', async () => {
    const down = await localJson('local', 'down');
    expect(down.json).toEqual({ status: 'stopped', pid: state.pid });
    expect(existsSync(join(home, 'local.json'))).toBe(false);
    expect(() => process.kill(state.pid, 0)).toThrow();
    const hosts = await local('hosts');
    expect(hosts.code).toBe(5);
    expect(hosts.stderr).toMatch(/no local environment is running/);
  });
});

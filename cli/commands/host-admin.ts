/**
 * `rejuv hosts sync|register|deregister|release`: registry changes, each sent to the operator API, which
 * authenticates the caller, checks their grant on the host's pool, and audits the change under their ARN.
 */
import { randomUUID } from 'node:crypto';
import type { HostDeregisterOptions, HostRegisterOptions, HostReleaseOptions } from '../cli-options.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';
import type { Target } from '../target.js';

const list = (ids: unknown): string => (Array.isArray(ids) && ids.length > 0 ? ids.join(', ') : 'none');

export async function hostsSyncCommand(target: Target, out: Output): Promise<ExitCode> {
  const answer = await target.operatorApi.send({ action: 'sync' });
  const r = answer.result as Record<string, unknown>;
  out.result(answer, () =>
    [
      `synced as ${answer.principal}`,
      `registered:          ${list(r['registered'])}`,
      `marked unavailable:  ${list(r['markedUnavailable'])}`,
      `available again:     ${list(r['markedAvailable'])}`,
      `left alone (busy):   ${list((r['observed'] as { hostId: string }[] | undefined)?.map((o) => o.hostId))}`,
      `instances refused:   ${list((r['refused'] as { instanceId: string; reason: string }[] | undefined)?.map((x) => `${x.instanceId} (${x.reason})`))}`,
    ].join('\n'),
  );
  return EXIT.ok;
}

export async function hostsRegisterCommand(
  target: Target,
  options: HostRegisterOptions,
  out: Output,
): Promise<ExitCode> {
  const answer = await target.operatorApi.send({
    action: 'register',
    hostId: options.host,
    instanceId: options.instanceId,
    pool: options.pool,
    ...(options.availabilityZone === undefined ? {} : { availabilityZone: options.availabilityZone }),
  });
  out.result(
    answer,
    () =>
      `registered ${options.host} (instance ${options.instanceId}, pool ${options.pool}) as ${answer.principal}`,
  );
  return EXIT.ok;
}

export async function hostsDeregisterCommand(
  target: Target,
  options: HostDeregisterOptions,
  out: Output,
): Promise<ExitCode> {
  const answer = await target.operatorApi.send({
    action: 'deregister',
    hostId: options.host,
    reason: options.reason,
  });
  out.result(answer, () => `deregistered ${options.host} as ${answer.principal}; its audit chain is kept`);
  return EXIT.ok;
}

export async function hostsReleaseCommand(
  target: Target,
  options: HostReleaseOptions,
  out: Output,
): Promise<ExitCode> {
  const requestId = options.requestId ?? `cli-${randomUUID()}`;
  out.info(
    options.force
      ? `releasing ${options.host} WITHOUT checks (forced; audited as such)`
      : `releasing ${options.host}: running Preflight, then Verify, on the host first (minutes at most)`,
  );
  const answer = await target.operatorApi.send({
    action: 'release',
    hostId: options.host,
    reason: options.reason,
    force: options.force,
    requestId,
  });
  // A failed check comes back as the API's ReleaseCheckFailedError (exit 1), naming the check and why.
  const r = answer.result as { checks?: { check: string; summary: string }[]; replayed?: boolean };
  out.result(answer, () =>
    [
      `${options.host} released to IN_SERVICE by ${answer.principal}${options.force ? ' (forced: no checks run)' : ''}${r.replayed === true ? ' (already done by this request id)' : ''}`,
      ...(r.checks ?? []).map((c) => `  ${c.check}: ${c.summary}`),
    ].join('\n'),
  );
  return EXIT.ok;
}

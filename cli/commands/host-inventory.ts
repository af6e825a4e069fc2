/**
 * `rejuv hosts inventory HOST [--adopt VM,... | --adopt-all]`: every VM process on the host and how the
 * agent stands to it (the host's Census document, sent by the operator API with a grant on the host's
 * pool), and, when asked, inventory entries written on the host for adoptable VMs from their running
 * argv. An existing entry is never rewritten: one whose process runs other arguments is shown `drifted`,
 * with where it differs.
 *
 * Exit: 0 when the census was taken and every VM asked for was adopted; 1 when an adoption was refused.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { AdoptionSchema, CensusVmSchema, type CensusVm } from '../../host/results/host-document-result.js';
import { parseWith } from '../../shared/domain/validation.js';
import type { HostInventoryOptions } from '../cli-options.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { table, type Output } from '../output.js';
import type { Target } from '../target.js';

const InventoryAnswerSchema = z.looseObject({
  hostId: z.string(),
  runId: z.string(),
  commandId: z.string(),
  outcome: z.string(),
  reason: z.string().optional(),
  vms: z.array(CensusVmSchema),
  adopted: z.array(AdoptionSchema),
});

export async function hostsInventoryCommand(
  target: Target,
  options: HostInventoryOptions,
  out: Output,
): Promise<ExitCode> {
  const adopt = options.adoptAll ? '*' : (options.adopt ?? '-');
  const answer = await target.operatorApi.send({
    action: 'inventory',
    hostId: options.host,
    adopt,
    requestId: options.requestId ?? `cli-${randomUUID()}`,
  });
  const census = parseWith(InventoryAnswerSchema, 'operator API answer', answer.result);
  out.result(answer, () =>
    [
      census.vms.length === 0
        ? `no VM processes on ${options.host}, and no inventory entries`
        : table(
            ['NAME', 'PID', 'VMM', 'STATUS', 'REASON'],
            census.vms.map((vm) => [vm.name, vm.pid?.toString(), vm.vmm, vm.outcome, vm.reason]),
          ),
      ...census.vms.flatMap(driftLines),
      ...(census.adopted.length === 0
        ? []
        : [
            '',
            ...census.adopted.map((a) =>
              a.outcome === 'adopted'
                ? `adopted ${a.name} (pid ${a.pid ?? '?'}): ${a.entry ?? ''}`
                : `not adopted ${a.name}: ${a.reason ?? 'no reason given'}`,
            ),
          ]),
      '',
      summary(census.vms, options.host, answer.principal),
    ].join('\n'),
  );
  return census.adopted.every((a) => a.outcome === 'adopted') ? EXIT.ok : EXIT.failed;
}

function driftLines(vm: CensusVm): string[] {
  if (vm.drift === undefined || vm.drift.length === 0) return [];
  return [
    '',
    `${vm.name} drifted: pid ${vm.pid ?? '?'} runs other arguments than its inventory entry (left as it is)`,
    ...vm.drift.map(
      (d) =>
        `  inventory: ${d.inventory.join(' ') || '(nothing)'}  ->  process: ${d.process.join(' ') || '(nothing)'}`,
    ),
  ];
}

function summary(vms: readonly CensusVm[], host: string, principal: string): string {
  const count = (status: CensusVm['outcome']) => vms.filter((vm) => vm.outcome === status).length;
  const left = vms.length - count('managed') - count('missing');
  return [
    `${host} as seen by ${principal}: ${count('managed')} managed`,
    `${count('adoptable')} adoptable`,
    `${count('foreign')} foreign`,
    `${count('drifted')} drifted`,
    `${count('unreadable')} unreadable`,
    `${count('missing')} missing`,
    left === 0
      ? 'every VM process is in the inventory'
      : `${left} not rejuvenated by rejuv (a kernel-level run is refused)`,
  ].join(', ');
}

import type { LabHost } from '../../../host/lab/lab-host.js';
import { vmPid } from '../../../host/lab/vm-processes.js';

/** The QEMU pid of each named VM on the lab host, in order. */
export function pidsOf(lab: LabHost, names: readonly string[]): Promise<number[]> {
  return Promise.all(names.map((name) => vmPid(lab.vm(name).argv)));
}

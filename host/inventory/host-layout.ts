/**
 * Where things live on a host, relative to its root: `/` on a real host, a directory for a local one.
 * The host agent (host/agent/rejuv_agent/host.py) uses the same layout; REJUV_HOST_ROOT names the root.
 */
import { join } from 'node:path';

export const HOST_ROOT_ENV = 'REJUV_HOST_ROOT';

export interface HostLayout {
  readonly root: string;
  /** One `<name>.json` inventory entry per VM. */
  readonly inventoryDir: string;
  /** The agent's own state: its lock and the journal of every WarmReboot run. */
  readonly stateRoot: string;
  readonly runsDir: string;
}

export function hostLayout(root: string): HostLayout {
  const stateRoot = join(root, 'var', 'lib', 'rejuv');
  return {
    root,
    inventoryDir: join(root, 'etc', 'rejuv', 'vms.d'),
    stateRoot,
    runsDir: join(stateRoot, 'runs'),
  };
}

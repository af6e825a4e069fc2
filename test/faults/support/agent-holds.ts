/**
 * The host agent's fault seam (host/README.md, host/lab/agent-seams.ts): with REJUV_HOLD_AT=<point> the agent stops
 * at that point of a warm reboot, creates `<point>.reached` (holding its pid) in REJUV_HOLD_DIR, and
 * waits for `<point>.release`. The test acts on the host in between: kills a process, deletes a file.
 */
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { holdSeamEnv } from '../../../host/lab/agent-seams.js';
import type { FleetHost } from '../../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../../local/local-environment.js';

export interface AgentHold {
  /** Resolves with the agent's pid once it has reached the point. */
  reached(timeoutMs?: number): Promise<number>;
  release(): void;
}

export function holdAgentAt(env: LocalEnvironment, host: FleetHost, point: string): AgentHold {
  const dir = mkdtempSync(join(tmpdir(), 'rejuv-hold-'));
  env.ssm.setAgentEnvironment(host.instanceId, holdSeamEnv(point, dir));
  return {
    reached: async (timeoutMs = 60_000) => {
      const file = join(dir, `${point}.reached`);
      const deadline = Date.now() + timeoutMs;
      while (!existsSync(file)) {
        if (Date.now() > deadline) throw new Error(`the agent never reached ${point}`);
        await sleep(20);
      }
      await sleep(20);
      return Number(readFileSync(file, 'utf8'));
    },
    release: () => {
      writeFileSync(join(dir, `${point}.release`), '');
      env.ssm.setAgentEnvironment(host.instanceId, {});
    },
  };
}

/**
 * The agent's test seams (host/README.md, "Fault seams"), switched on for one document run: the
 * environment to give the runner, which puts the lab's python3 (agent-seams/python3) first on PATH so
 * that the agent runs through agent-seams/agent_with_seams.py. The shipped agent never reads these
 * variables: its hooks are no-ops.
 */
import { join } from 'node:path';
import { REPO_ROOT } from './repo-paths.js';

export const AGENT_SEAMS_DIR = join(REPO_ROOT, 'host', 'lab', 'agent-seams');
export const AGENT_WITH_SEAMS = join(AGENT_SEAMS_DIR, 'agent_with_seams.py');

/** Holds the agent at each of `points` until `<holdDir>/<point>.release` exists. */
export function holdSeamEnv(points: string | readonly string[], holdDir: string): Record<string, string> {
  return {
    PATH: `${AGENT_SEAMS_DIR}:${process.env['PATH'] ?? '/usr/local/bin:/usr/bin:/bin'}`,
    REJUV_HOLD_AT: [points].flat().join(','),
    REJUV_HOLD_DIR: holdDir,
  };
}

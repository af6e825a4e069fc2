/** Paths inside this repository that the lab needs: scratch space is `.tmp/`, which git ignores. */
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const SCRATCH_DIR = join(REPO_ROOT, '.tmp');
export const LAB_HOSTS_DIR = join(SCRATCH_DIR, 'hosts');
export const GUEST_SOURCE = join(REPO_ROOT, 'host', 'guest', 'heartbeat.asm');

import { HostNotFoundError } from '../domain/errors.js';
import type { Host } from '../domain/host.js';
import type { HostRepository } from '../ports/host-repository.js';

/** The host, or undefined when it is not registered (a retried removal, a fresh registration). */
export async function findHost(
  hosts: Pick<HostRepository, 'get'>,
  hostId: string,
): Promise<Host | undefined> {
  try {
    return await hosts.get(hostId);
  } catch (error) {
    if (error instanceof HostNotFoundError) return undefined;
    throw error;
  }
}

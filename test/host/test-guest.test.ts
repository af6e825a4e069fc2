import { open } from 'node:fs/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  counterBreaks,
  readHeartbeatLog,
  waitForHeartbeat,
  waitForLog,
} from '../../host/lab/heartbeat-log.js';
import { createLabHost, teardownOpenLabHosts, type LabHost } from '../../host/lab/lab-host.js';
import { shmRamPath } from '../../host/lab/test-vm.js';

let host: LabHost | undefined;
afterEach(async () => {
  await host?.teardown();
  host = undefined;
});
afterAll(teardownOpenLabHosts);

describe('Test guest', () => {
  it('boots once and counts up by one per tick', async () => {
    host = await createLabHost();
    const entry = await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();
    await waitForHeartbeat(entry.heartbeat.log, 20);
    const log = await readHeartbeatLog(entry.heartbeat.log);
    expect(log.boots).toBe(1);
    expect(counterBreaks(log.counters)).toEqual([]);
    expect(log.badPages).toEqual([]);
  });

  it('notices a page of its RAM that changed behind its back', async () => {
    host = await createLabHost();
    const entry = await host.addVm({ name: 'vm-a', memoryMiB: 64 });
    await host.launch();
    const page = 0x300000;
    const ram = await open(shmRamPath(host.root, 'vm-a'), 'r+');
    try {
      await ram.write(Buffer.from([0xde, 0xad, 0xbe, 0xef]), 0, 4, page);
    } finally {
      await ram.close();
    }
    const log = await waitForLog(entry.heartbeat.log, (l) => l.badPages.length > 0);
    expect(log.badPages).toEqual([String(page).padStart(10, '0')]);
  });
});

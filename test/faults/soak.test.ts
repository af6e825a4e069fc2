/**
 * Concurrency soak: 20 executions over 6 lab hosts of one pool limited to 3 in maintenance, started
 * close together, with faults sprinkled in (a Lambda crash after its write, a DynamoDB throttling
 * burst, a guest frozen through Verify, a Preflight failure). An observer reading the hosts table on
 * its own connection checks that never more than 3 hosts of the pool are out of service at once;
 * afterwards every execution has ended and every host, guest and audit chain is whole, and every host
 * can be rejuvenated again.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Duration } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { teardownOpenLabHosts } from '../../host/lab/lab-host.js';
import { vmPid } from '../../host/lab/vm-processes.js';
import { addFleetHost, type FleetHost } from '../../local/lab-fleet.js';
import type { LocalEnvironment } from '../../local/local-environment.js';
import { handlerFaults, startFaultEnvironment } from './support/fault-environment.js';
import { signalIfAlive } from './support/fault-triggers.js';
import { checkInvariants, type FaultVerdict } from './support/invariants.js';
import { giveVerdict, injectFault } from './support/tally.js';

const POOL = 'soak';
const LIMIT = 3;
const HOSTS = 6;
const EXECUTIONS = 20;

let env: LocalEnvironment;
let hosts: FleetHost[] = [];

beforeAll(async () => {
  env = await startFaultEnvironment({
    // A host waits for a pool slot longer than one rejuvenation takes (20 tries, 30 s apart, when
    // deployed): here 20 x 1.5 s, as six concurrent single-VM runs take 10-20 s each on two loaded cores.
    poolSlotRetryMs: 1500,
    coordinator: { pools: { [POOL]: { maxHostsInMaintenance: LIMIT } }, leaseDuration: Duration.seconds(60) },
  });
  hosts = await Promise.all(
    Array.from({ length: HOSTS }, (_, i) =>
      addFleetHost(env, { hostId: `soak-${i + 1}`, pool: POOL, vms: [{ name: 'vm1' }] }),
    ),
  );
});

afterAll(async () => {
  await env?.stop();
  await teardownOpenLabHosts();
});

/** Polls the hosts table on the test's own client, independent of the coordinator's traffic. */
function startObserver(): { stop(): Promise<number> } {
  let running = true;
  let most = 0;
  const loop = (async () => {
    while (running) {
      const out = (await env.store.hosts.listByPool(POOL)).filter((h) => h.state !== 'IN_SERVICE').length;
      most = Math.max(most, out);
      await sleep(50);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return most;
    },
  };
}

const inventoryFileOf = (host: FleetHost, vm: string): string => {
  const dir = join(host.lab.root, 'etc', 'rejuv', 'vms.d');
  return join(dir, readdirSync(dir).find((f) => f.startsWith(vm)) ?? '');
};

describe('Concurrency soak', () => {
  it(`${EXECUTIONS} executions over ${HOSTS} hosts, pool limit ${LIMIT}, faults sprinkled in: limit held, every execution ends, nothing lost`, async () => {
    const [crashHost, throttleHost, frozenHost, preflightHost] = hosts;
    if (
      crashHost === undefined ||
      throttleHost === undefined ||
      frozenHost === undefined ||
      preflightHost === undefined
    )
      throw new Error('lab hosts missing');
    /** Each sprinkled fault counts only if it fired: scheduling one proves nothing. */
    const sprinkled: { fault: string; host: FleetHost; fired: () => boolean }[] = [];

    const crash = {
      stepId: 'Advance',
      inputMatches: [new RegExp(`"hostId":"${crashHost.hostId}"`), /"to":"RESUMING"/],
      kind: 'crash-after-return' as const,
      times: 1,
      hits: 0,
    };
    handlerFaults.push(crash);
    sprinkled.push({
      fault: 'soak: Lambda crash after write (Advance to RESUMING)',
      host: crashHost,
      fired: () => crash.hits > 0,
    });

    let throttled = false;
    const throttlesBefore = env.dynamoDbRequests?.faultsAnswered() ?? 0;
    env.ssm.onCommandFinished((e) => {
      if (
        throttled ||
        e.instanceId !== throttleHost.instanceId ||
        e.documentName !== env.documentNames['Preflight']
      )
        return;
      throttled = true;
      env.dynamoDbRequests?.failNext({ fault: 'throttle', count: 8 });
    });
    // The pass-through answers only this fault in the soak: whatever it answered, this burst fired.
    sprinkled.push({
      fault: 'soak: DynamoDB throttling burst',
      host: throttleHost,
      fired: () => (env.dynamoDbRequests?.faultsAnswered() ?? 0) > throttlesBefore,
    });

    let frozenPid = 0;
    let frozen = false;
    env.ssm.onCommandFinished((e) => {
      if (e.instanceId !== frozenHost.instanceId) return;
      if (frozenPid === 0 && e.documentName === env.documentNames['WarmReboot'])
        void vmPid(frozenHost.lab.vm('vm1').argv).then((pid) => {
          frozenPid = pid;
          process.kill(pid, 'SIGSTOP');
          frozen = true;
        });
      if (frozenPid > 0 && e.documentName === env.documentNames['Verify'])
        signalIfAlive(frozenPid, 'SIGCONT');
    });
    sprinkled.push({ fault: 'soak: guest frozen through Verify', host: frozenHost, fired: () => frozen });

    const inventory = inventoryFileOf(preflightHost, 'vm1');
    const original = readFileSync(inventory);
    writeFileSync(inventory, '{ broken');
    let restored = false;
    let preflightFailed = false;
    env.ssm.onCommandFinished((e) => {
      if (
        restored ||
        e.instanceId !== preflightHost.instanceId ||
        e.documentName !== env.documentNames['Preflight']
      )
        return;
      restored = true;
      preflightFailed = e.status !== 'Success';
      writeFileSync(inventory, original);
    });
    sprinkled.push({
      fault: 'soak: Preflight fails (inventory unreadable)',
      host: preflightHost,
      fired: () => preflightFailed,
    });

    const observer = startObserver();
    const started: { host: FleetHost; name: string }[] = [];
    for (let i = 0; i < EXECUTIONS; i++) {
      const host = hosts[i % HOSTS];
      if (host === undefined) continue;
      const answer = (await env.startAsOperator({
        hostId: host.hostId,
        reason: `soak run ${i}`,
        requestId: `soak-${i}`,
      })) as { executionName: string };
      started.push({ host, name: answer.executionName });
      await sleep(250 + (i % 4) * 150);
    }
    await Promise.all(started.map((s) => env.stepFunctions.execution(s.name)?.done));
    const mostOut = await observer.stop();

    const verdicts = new Map<string, FaultVerdict>();
    for (const host of hosts) {
      verdicts.set(
        host.hostId,
        await checkInvariants({
          fault: `soak host ${host.hostId}`,
          env,
          host,
          executions: started.filter((s) => s.host === host).map((s) => s.name),
          faultOnRecord: () => true,
          tally: false,
        }),
      );
    }
    // Tallied only if it fired; survived only if its host's invariants held and the whole test passes.
    for (const s of sprinkled) {
      if (!s.fired()) continue;
      injectFault(s.fault);
      const verdict = verdicts.get(s.host.hostId);
      giveVerdict({
        fault: s.fault,
        survived: verdict?.survived === true && mostOut <= LIMIT,
        lostGuests: verdict?.lostGuests ?? 1,
        lostAuditRecords: verdict?.lostAuditRecords ?? 1,
        ending: `${verdict?.ending ?? 'no verdict'}; pool at most ${mostOut} of ${HOSTS} out`,
      });
    }

    const statuses = started.map((s) => env.stepFunctions.execution(s.name)?.status);
    const endings = started.map((s) => {
      const e = env.stepFunctions.execution(s.name);
      return `${e?.status ?? '?'}${e?.error === undefined ? '' : `/${e.error}`}`;
    });
    console.log(
      `soak: ${EXECUTIONS} executions, ${JSON.stringify(Object.fromEntries([...new Set(endings)].map((k) => [k, endings.filter((x) => x === k).length])))}; at most ${mostOut} of ${HOSTS} hosts out (limit ${LIMIT})`,
    );
    expect(statuses.filter((s) => s === 'RUNNING')).toEqual([]);
    expect(statuses).toHaveLength(EXECUTIONS);
    expect(mostOut).toBeLessThanOrEqual(LIMIT);
    expect(mostOut).toBeGreaterThan(1);
    for (const [hostId, verdict] of verdicts)
      expect({ hostId, problems: verdict.problems }).toEqual({ hostId, problems: [] });
    expect(handlerFaults.find((f) => f.inputMatches[0]?.source.includes(crashHost.hostId))?.hits).toBe(1);
    expect(throttled && restored && frozenPid > 0).toBe(true);
    expect(sprinkled.filter((s) => !s.fired()).map((s) => s.fault)).toEqual([]);
    // Progress under contention: how many of the burst succeed depends on how long each run takes here
    // (a host's later requests are refused while its earlier run holds the lock), but some must.
    expect(statuses.filter((s) => s === 'SUCCEEDED').length).toBeGreaterThan(0);

    // Nothing is left broken: once the burst has settled, every host, faulted or not, rejuvenates again,
    // a pool's worth at a time.
    const again: string[] = [];
    for (let wave = 0; wave < HOSTS; wave += LIMIT) {
      const names = await Promise.all(
        hosts.slice(wave, wave + LIMIT).map(async (host) => {
          const answer = (await env.startAsOperator({
            hostId: host.hostId,
            reason: 'soak: after the burst',
            requestId: `soak-again-${host.hostId}`,
          })) as { executionName: string };
          return answer.executionName;
        }),
      );
      await Promise.all(names.map((name) => env.stepFunctions.execution(name)?.done));
      again.push(...names);
    }
    expect(
      again.map((name) => {
        const e = env.stepFunctions.execution(name);
        return `${name}: ${e?.status}${e?.error === undefined ? '' : `/${e.error} ${e.cause ?? ''}`}`;
      }),
    ).toEqual(again.map((name) => `${name}: SUCCEEDED`));
  });
});

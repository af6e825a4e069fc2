import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cachedTemplate } from '../../../local/template-cache.js';
import { RejuvStack } from '../../../cdk/rejuv-stack.js';
import type { RejuvenationCoordinatorProps } from '../../../cdk/rejuvenation-coordinator.js';

let root: string;
let synths: number;
const synthesize = () => ({ synth: ++synths });

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'template-cache-'));
  synths = 0;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('Local: cachedTemplate', () => {
  it('synthesizes once per set of props and answers again from the cache', () => {
    const props = { pools: { web: { maxHostsInMaintenance: 2 } }, awaitHostTimeout: Duration.seconds(150) };
    expect(cachedTemplate(props, synthesize, root)).toEqual({ synth: 1 });
    expect(
      cachedTemplate(structuredClone({ ...props, awaitHostTimeout: undefined }), synthesize, root),
    ).toEqual({
      synth: 2,
    });
    expect(cachedTemplate({ ...props, awaitHostTimeout: Duration.seconds(150) }, synthesize, root)).toEqual({
      synth: 1,
    });
    expect(synths).toBe(2);
    expect(readdirSync(root).filter((f) => f.endsWith('.json'))).toHaveLength(2);
  });

  it('tells props apart that differ only in a nested value, an absent key or a duration unit', () => {
    const variants: unknown[] = [
      {},
      { pools: { web: { maxHostsInMaintenance: 1 } } },
      { pools: { web: { maxHostsInMaintenance: 2 } } },
      { pools: { web: { maxHostsInMaintenance: 2 } }, alarmNamePrefix: undefined },
      { leaseDuration: Duration.minutes(5) },
      { leaseDuration: Duration.seconds(300) },
    ];
    for (const props of variants) cachedTemplate(props, synthesize, root);
    expect(synths).toBe(variants.length);
    for (const props of variants) cachedTemplate(props, synthesize, root);
    expect(synths).toBe(variants.length);
  });

  it('never caches props it cannot write down exactly: a function, a construct', () => {
    const withFunction = { wrap: () => 1 };
    const withConstruct = { scope: new Stack(new App(), 'S') };
    for (const props of [withFunction, withFunction, withConstruct, withConstruct])
      cachedTemplate(props, synthesize, root);
    expect(synths).toBe(4);
    expect(readdirSync(root)).toEqual([]);
  });

  it('gives the template a fresh synth gives', () => {
    const props: RejuvenationCoordinatorProps = {
      pools: { web: { maxHostsInMaintenance: 3 } },
      awaitHostTimeout: Duration.seconds(90),
    };
    const synth = () => {
      const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
      const stack = new RejuvStack(app, 'Rejuv', { coordinator: props });
      return app.synth().getStackByName(stack.stackName).template as unknown;
    };
    const first = cachedTemplate(props, synth, root);
    expect(cachedTemplate(props, () => ({ stale: true }), root)).toEqual(first);
    expect(synth()).toEqual(first);
  }, 120_000); // two synths: seconds alone, a minute on two shared cores
});

/**
 * The resources the predictive trigger watches, which way each runs out, and what a believable value of
 * each is. A value outside its range is a broken collector, not a host in trouble.
 */

export const AGING_RESOURCES = ['memAvailable', 'sUnreclaim', 'fragmentation', 'qemuRss'] as const;
export type AgingResource = (typeof AGING_RESOURCES)[number];

/** 64 TiB: more memory than any x86 server ships with; a byte count above it is a collector's bug. */
export const MAX_PLAUSIBLE_BYTES = 2 ** 46;

export interface ResourceTraits {
  /** `falling` runs out at a floor (free memory), `rising` at a ceiling (leaked or fragmented memory). */
  readonly exhaustsWhen: 'falling' | 'rising';
  /** The range a measured value or a limit may take. */
  readonly min: number;
  readonly max: number;
  readonly describe: string;
}

export const RESOURCE_TRAITS: Readonly<Record<AgingResource, ResourceTraits>> = {
  memAvailable: {
    exhaustsWhen: 'falling',
    min: 0,
    max: MAX_PLAUSIBLE_BYTES,
    describe: 'MemAvailable (bytes); runs out at a reserve',
  },
  sUnreclaim: {
    exhaustsWhen: 'rising',
    min: 0,
    max: MAX_PLAUSIBLE_BYTES,
    describe: 'unreclaimable slab (bytes); runs out at a ceiling',
  },
  fragmentation: {
    exhaustsWhen: 'rising',
    min: 0,
    max: 1,
    describe: 'unusable free space index for huge-page orders (0..1); runs out near 1',
  },
  qemuRss: {
    exhaustsWhen: 'rising',
    min: 0,
    max: MAX_PLAUSIBLE_BYTES,
    describe: "a QEMU process's resident memory (bytes); runs out at its memory limit",
  },
};

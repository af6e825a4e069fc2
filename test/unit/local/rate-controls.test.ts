import { describe, expect, it } from 'vitest';
import {
  concurrencyWindow,
  errorsExceeded,
  MAX_CONCURRENCY_PATTERN,
  MAX_ERRORS_PATTERN,
  rateControls,
} from '../../../local/ssm-endpoint/rate-controls.js';

describe('Local SSM: rate controls', () => {
  describe('Function: rateControls', () => {
    it("takes SSM's defaults: MaxConcurrency 50, MaxErrors 0", () => {
      expect(rateControls(undefined, undefined, 200)).toMatchObject({
        maxConcurrency: '50',
        maxErrors: '0',
        concurrencyLimit: 50,
        errorLimit: 0,
      });
    });

    it('resolves a percentage against the target count: concurrency rounded up to at least 1, errors down', () => {
      expect(rateControls('10%', '10%', 50)).toMatchObject({ concurrencyLimit: 5, errorLimit: 5 });
      expect(rateControls('10%', '5%', 3)).toMatchObject({ concurrencyLimit: 1, errorLimit: 0 });
      expect(rateControls('1%', '0%', 0)).toMatchObject({ concurrencyLimit: 1, errorLimit: 0 });
      expect(rateControls('30%', '30%', 10)).toMatchObject({ concurrencyLimit: 3, errorLimit: 3 });
    });
  });

  describe('Function: concurrencyWindow', () => {
    it('ramps up as SSM does, one first, then doubling with each invocation that ends, up to the limit', () => {
      const controls = rateControls('5', '0', 100);
      expect([0, 1, 2, 3, 10].map((finished) => concurrencyWindow(controls, finished))).toEqual([
        1, 2, 4, 5, 5,
      ]);
    });
  });

  describe('Function: errorsExceeded', () => {
    it('stops only past MaxErrors: 3 allows three errors and stops at the fourth; 0 at the first', () => {
      const three = rateControls('1', '3', 10);
      expect([3, 4].map((e) => errorsExceeded(three, e))).toEqual([false, true]);
      const none = rateControls('1', '0', 10);
      expect([0, 1].map((e) => errorsExceeded(none, e))).toEqual([false, true]);
    });
  });

  describe('Patterns (the API model)', () => {
    it('accepts numbers and percentages as SSM does, and refuses what SSM refuses', () => {
      expect(['1', '50', '1%', '10%', '100%'].every((v) => MAX_CONCURRENCY_PATTERN.test(v))).toBe(true);
      expect(['0', '0%', '101%', '05', '-1', '10 %', ''].some((v) => MAX_CONCURRENCY_PATTERN.test(v))).toBe(
        false,
      );
      expect(['0', '0%', '5%', '100%', '12'].every((v) => MAX_ERRORS_PATTERN.test(v))).toBe(true);
      expect(['101%', '00', '-1', '1.5'].some((v) => MAX_ERRORS_PATTERN.test(v))).toBe(false);
    });
  });
});

import { describe, expect, it } from 'vitest';
import { parseGuestWriteLog } from '../../../host/lab/guest-write-log.js';

const BOOT = '4488900b-85cb-49d5-8c83-729049a2eacc';
const OTHER = '0b7c2a10-1111-4222-8333-944455556666';

/** A log disk whose sector n holds `records[n]` (undefined: never written). */
function disk(sectors: number, records: Record<number, string>): Buffer {
  const image = Buffer.alloc(sectors * 512);
  for (const [sector, text] of Object.entries(records))
    image.write(`${text}\n`, Number(sector) * 512, 'latin1');
  return image;
}

describe('parseGuestWriteLog', () => {
  it('counts the records of one boot from sector 1 up to the first not yet written', () => {
    const log = parseGuestWriteLog(disk(8, { 1: `SEQ 1 ${BOOT}`, 2: `SEQ 2 ${BOOT}`, 3: `SEQ 3 ${BOOT}` }));
    expect(log).toEqual({ bootId: BOOT, records: 3, misplaced: [] });
  });

  it('names a record of the same boot found past a gap: a write the disk lost', () => {
    const log = parseGuestWriteLog(disk(8, { 1: `SEQ 1 ${BOOT}`, 2: `SEQ 2 ${BOOT}`, 4: `SEQ 4 ${BOOT}` }));
    expect(log).toEqual({ bootId: BOOT, records: 2, misplaced: ['record 4 at sector 4'] });
  });

  it('stops at a record in the wrong place and names it', () => {
    const log = parseGuestWriteLog(disk(8, { 1: `SEQ 1 ${BOOT}`, 2: `SEQ 7 ${BOOT}`, 3: `SEQ 3 ${BOOT}` }));
    expect(log.records).toBe(1);
    expect(log.misplaced).toEqual(['record 3 at sector 3']);
  });

  it("leaves an earlier boot's records past the end alone: a reboot starts the log over", () => {
    const log = parseGuestWriteLog(disk(8, { 1: `SEQ 1 ${BOOT}`, 2: `SEQ 2 ${OTHER}`, 3: `SEQ 3 ${OTHER}` }));
    expect(log).toEqual({ bootId: BOOT, records: 1, misplaced: [] });
  });

  it('reads a blank disk, and a torn record, as no records', () => {
    expect(parseGuestWriteLog(disk(4, {}))).toEqual({ bootId: undefined, records: 0, misplaced: [] });
    expect(parseGuestWriteLog(disk(4, { 1: `SEQ 1 ${BOOT.slice(0, 10)}\u0001` })).records).toBe(0);
  });
});

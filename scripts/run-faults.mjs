// `npm run test:faults`: runs the fault suite, then prints its one summary line from the tally the
// tests wrote, and fails unless every injected fault was survived, nothing was lost, no hostile input
// was accepted, and the suite reached its floor (12 faults, 500 inputs). A fault is counted injected
// from its `injected` line; it is survived only by an outcome line written after its test passed, so
// one whose test failed, or whose outcome never came (a crashed worker), is not survived.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';

const TALLY = 'reports/faults/tally.jsonl';
const MIN_FAULTS = 12;
const MIN_INPUTS = 500;

const vitest = spawnSync(
  'npx',
  ['vitest', 'run', '--config', 'vitest.faults.config.ts', ...process.argv.slice(2)],
  {
    stdio: 'inherit',
  },
);

const lines = existsSync(TALLY)
  ? readFileSync(TALLY, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => JSON.parse(l))
  : [];
const outcomes = lines.filter((l) => l.kind === 'fault');
const injectedFaults = lines.filter((l) => l.kind === 'injected').map((l) => l.fault);
// Every injected fault gets its outcome, or one saying none came.
const unanswered = [...injectedFaults];
for (const o of outcomes) {
  const i = unanswered.indexOf(o.fault);
  if (i >= 0) unanswered.splice(i, 1);
}
const faults = [
  ...outcomes,
  ...unanswered.map((fault) => ({
    fault,
    survived: false,
    lostGuests: 0,
    lostAuditRecords: 0,
    ending: 'no outcome recorded (the test never finished)',
  })),
];
const inputs = lines.filter((l) => l.kind === 'inputs');
const sum = (rows, key) => rows.reduce((n, r) => n + r[key], 0);
const injected = faults.length;
const survived = faults.filter((f) => f.survived).length;
const lost = sum(faults, 'lostGuests') + sum(faults, 'lostAuditRecords');
const tried = sum(inputs, 'tried');
const rejected = sum(inputs, 'rejected');
const accepted = sum(inputs, 'accepted');

console.log('\nfault matrix:');
for (const f of faults) console.log(`  ${f.survived ? 'survived' : 'FAILED  '}  ${f.fault}  ->  ${f.ending}`);
console.log('hostile inputs:');
for (const i of inputs)
  console.log(`  ${i.surface}: ${i.tried} tried, ${i.rejected} rejected, ${i.accepted} accepted`);
const shortfalls = [
  vitest.status !== 0 && `vitest exited ${vitest.status ?? vitest.signal}`,
  injected < MIN_FAULTS && `only ${injected} faults injected (at least ${MIN_FAULTS})`,
  survived !== injected && `${injected - survived} faults not survived`,
  lost !== 0 && `${lost} guests or audit records lost`,
  tried < MIN_INPUTS && `only ${tried} hostile inputs tried (at least ${MIN_INPUTS})`,
  accepted !== 0 && `${accepted} hostile inputs accepted`,
].filter(Boolean);
if (shortfalls.length > 0) console.error(`test:faults failed: ${shortfalls.join('; ')}`);
// The summary is the command's last line, pass or fail.
const summary = `faults: ${injected} injected, ${survived} survived, ${lost} lost; inputs: ${tried} hostile tried, ${rejected} rejected, ${accepted} accepted`;
mkdirSync('reports/faults', { recursive: true });
writeFileSync('reports/faults/summary.txt', `${summary}\n`);
console.log(summary);
process.exitCode = shortfalls.length > 0 ? 1 : 0;

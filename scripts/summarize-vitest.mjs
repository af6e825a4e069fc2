// Prints vitest's JSON report as one plain closing line, e.g. "tests: 320 passed, 0 failed, 0 skipped",
// after the slowest test files (wall time each, from the report), so CI's log says where the minutes go.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

const SLOWEST = 12;
const file = process.argv[2] ?? 'reports/vitest.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const files = report.testResults
  .map((r) => ({ name: relative(process.cwd(), r.name), seconds: (r.endTime - r.startTime) / 1000 }))
  .sort((a, b) => b.seconds - a.seconds);
if (files.length > 0) {
  console.log(`slowest test files (of ${files.length}):`);
  for (const f of files.slice(0, SLOWEST)) console.log(`${f.seconds.toFixed(0).padStart(6)} s  ${f.name}`);
}
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
if (report.numTotalTests === 0) {
  console.error('no test ran');
  process.exit(1);
}

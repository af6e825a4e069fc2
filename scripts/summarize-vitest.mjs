// Prints vitest's JSON report as one plain closing line, e.g. "tests: 320 passed, 0 failed, 0 skipped".
import { readFileSync } from 'node:fs';

const file = process.argv[2] ?? 'reports/vitest.json';
const report = JSON.parse(readFileSync(file, 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
console.log(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`);
if (report.numTotalTests === 0) {
  console.error('no test ran');
  process.exit(1);
}

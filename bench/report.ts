/**
 * Render bench results (JSON lines) as the markdown table docs/PERFORMANCE.md shows.
 * `node --import tsx bench/report.ts bench/results/full-latest.jsonl [more.jsonl …]`
 */
import { readFileSync } from 'node:fs';
import { table, type Result } from './lib/stats.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: report.ts <results.jsonl> […]');
  process.exit(2);
}
const results = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Result),
);
console.log(table(results));

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './proc.ts';

describe('pinSelf', () => {
  it('keeps every thread of the process, those it has and those it starts later, on the core given', () => {
    // In a child: pinning the test's own process would pin the rest of the suite.
    const script = `
      import { pinSelf } from './bench/lib/proc.ts';
      import { readdirSync, readFileSync } from 'node:fs';
      import { Worker } from 'node:worker_threads';
      pinSelf(0);
      const worker = new Worker('setTimeout(() => {}, 200)', { eval: true });
      await new Promise((resolve) => worker.once('online', resolve));
      const cores = readdirSync('/proc/self/task').map((t) => /Cpus_allowed_list:\\s*(\\S+)/.exec(readFileSync('/proc/self/task/' + t + '/status', 'utf8'))[1]);
      console.log(JSON.stringify(cores));
      await worker.terminate();
    `;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    const cores = JSON.parse(out) as string[];
    // The main thread, V8's and libuv's threads, and the worker started after pinning.
    expect(cores.length).toBeGreaterThan(4);
    expect(new Set(cores)).toEqual(new Set(['0']));
  });
});

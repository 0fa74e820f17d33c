import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cpuSeconds, ephemeralPorts, freePort, parseSchedstatNs, ROOT } from './proc.ts';

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

describe('cpuSeconds', () => {
  /** Work until this process has used `ms` of CPU (by getrusage), however busy the machine. */
  const spin = (ms: number) => {
    const from = process.cpuUsage();
    for (;;) {
      const { user, system } = process.cpuUsage(from);
      if (user + system >= ms * 1000) return;
    }
  };

  it('counts a few milliseconds of work, which the 10 ms ticks of /proc/<pid>/stat mostly miss', () => {
    const gaps: number[] = [];
    for (let round = 0; round < 5; round++) {
      const before = cpuSeconds(process.pid);
      const usage = process.cpuUsage();
      spin(3);
      const used = cpuSeconds(process.pid) - before;
      const { user, system } = process.cpuUsage(usage);
      // Ticks would read 0 here about two times in three, and 10 ms otherwise.
      expect(used).toBeGreaterThan(0.001);
      gaps.push(Math.abs(used - (user + system) / 1e6));
    }
    // getrusage (microseconds) agrees, give or take what the process's other threads (the
    // collector's, on a busy machine) ran between the two pairs of reads: in the best round
    // within a millisecond, in every round within a few.
    expect(Math.min(...gaps)).toBeLessThan(0.001);
    for (const gap of gaps) expect(gap).toBeLessThan(0.01);
  });

  it('reads the run time from a schedstat line', () => {
    expect(parseSchedstatNs('2199202120 533375 29\n')).toBe(2199202120);
    expect(() => parseSchedstatNs('garbage')).toThrow();
  });
});

describe('freePort', () => {
  it('picks ports below the range the kernel hands out itself, and free ones', async () => {
    const [low, high] = ephemeralPorts();
    expect(low).toBeGreaterThan(10_000);
    expect(high).toBeGreaterThanOrEqual(low);
    for (let i = 0; i < 20; i++) {
      const port = await freePort();
      expect(port).toBeGreaterThanOrEqual(10_000);
      expect(port).toBeLessThan(low);
      // Free: it can be listened on.
      const srv = createServer();
      await new Promise<void>((resolve, reject) => srv.once('error', reject).listen(port, '127.0.0.1', resolve));
      await new Promise((resolve) => srv.close(resolve));
    }
  });

  it('never returns a port in use', async () => {
    const [low] = ephemeralPorts();
    // Hold every port of a slice of the range but one: each call must find that one or another outside the slice.
    const held: Server[] = [];
    try {
      for (let port = 10_000; port < 10_200; port++) {
        const srv = createServer();
        const ok = await new Promise<boolean>((resolve) => srv.once('error', () => resolve(false)).listen(port, '127.0.0.1', () => resolve(true)));
        if (ok) held.push(srv);
      }
      const taken = new Set(held.map((s) => (s.address() as { port: number }).port));
      for (let i = 0; i < 50; i++) expect(taken.has(await freePort())).toBe(false);
      expect(low).toBeGreaterThan(10_200);
    } finally {
      await Promise.all(held.map((s) => new Promise((resolve) => s.close(resolve))));
    }
  });
});

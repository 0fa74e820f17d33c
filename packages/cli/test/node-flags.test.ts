/**
 * The server's node flags (a 64 MB young-generation semi-space, kept once used:
 * docs/PERFORMANCE.md, the sixth and seventh passes) are given in two places an operator
 * starts it from — `npm start` and the `parley` binary's shebang — and the benchmarks read
 * them from the first.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_ARGS } from '../../../bench/lib/parley.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'packages/cli/bin/parley.js');

describe('the node flags the server runs with', () => {
  const start = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const shebang = readFileSync(BIN, 'utf8').split('\n')[0]!;

  it('npm start gives node a 64 MB semi-space that is not shrunk back, and the benchmarks use the same flags', () => {
    expect(start).toMatch(/^node --max-semi-space-size=64 --lazy-new-space-shrinking --import tsx packages\/cli\/src\/main\.ts serve$/);
    expect(SERVER_NODE_ARGS).toEqual(['--max-semi-space-size=64', '--lazy-new-space-shrinking']);
  });

  it('this node knows both flags (an unknown flag would stop node before the server starts)', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [...SERVER_NODE_ARGS, '-e', 'console.log("ok")']);
    expect(stdout.trim()).toBe('ok');
  });

  it('the parley binary carries the same flags in its shebang, and runs through it', async () => {
    expect(shebang).toBe(`#!/usr/bin/env -S node ${SERVER_NODE_ARGS.join(' ')}`);
    // Run as an executable (the kernel reads the shebang; env -S splits the flags).
    const { stdout } = await promisify(execFile)(BIN, ['--help']);
    expect(stdout).toContain('Usage: parley');
  });
});

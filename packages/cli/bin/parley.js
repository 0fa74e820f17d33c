#!/usr/bin/env -S node --max-semi-space-size=64 --lazy-new-space-shrinking
// The flag (as in `npm start`): a young generation of up to 64 MB per semi-space instead of
// 16, so that what a message's send path allocates dies young instead of being promoted
// while its batch waits for the fsync (docs/PERFORMANCE.md, the sixth pass).
// Runs the TypeScript CLI through tsx's loader (no build step).
import { register } from 'tsx/esm/api';
register();
await import('../src/main.ts');

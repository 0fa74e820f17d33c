import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, describeConfig, loadConfig } from './config.ts';

describe('config', () => {
  it('has defaults for everything', () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.dataDir).toBe(path.resolve('./data'));
    expect(config.databaseUrl).toBeUndefined();
    expect(config.durability).toBe('full');
  });

  it('reads PARLEY_* and the conventional URLs', () => {
    const config = loadConfig({ PARLEY_PORT: '9000', DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://h:6379' });
    expect(config.port).toBe(9000);
    expect(config.databaseUrl).toBe('postgres://x@h/db');
    expect(config.redisUrl).toBe('redis://h:6379');
  });

  it('fails at boot with every problem named', () => {
    expect(() => loadConfig({ PARLEY_PORT: 'eighty', PARLEY_DURABILITY: 'maybe' })).toThrow(ConfigError);
    try {
      loadConfig({ PARLEY_PORT: 'eighty', PARLEY_DURABILITY: 'maybe' });
    } catch (err) {
      expect((err as Error).message).toContain('PARLEY_PORT');
      expect((err as Error).message).toContain('PARLEY_DURABILITY');
    }
  });

  it('reads secrets from *_FILE and redacts them when described', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'parley-config-'));
    const file = path.join(dir, 'token');
    writeFileSync(file, 'operator-secret-123456\n');
    const config = loadConfig({ PARLEY_OPERATOR_TOKEN_FILE: file });
    expect(config.operatorToken).toBe('operator-secret-123456');
    const shown = describeConfig(config).find((k) => k.key === 'operatorToken');
    expect(shown?.value).toBe('[redacted]');
  });
});

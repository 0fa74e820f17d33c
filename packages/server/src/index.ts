export { createServer, type ParleyServer, type ServerOptions } from './main.ts';
export { loadConfig, testConfig, describeConfig, ConfigError, type Config } from './config/config.ts';
export { openDatabase, type Database } from './storage/db.ts';

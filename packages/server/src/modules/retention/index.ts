export { createRetention, type Retention, type RetentionDeps } from './sweeper.ts';

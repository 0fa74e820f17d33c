// Import boundaries of the house style: protocol imports nothing internal; the SDK only
// protocol; web and cli never the server's internals; transports reach modules only
// through their index.ts; modules never import a transport.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

const restrict = (patterns) => ({
  'no-restricted-imports': ['error', { patterns }],
});

export default tseslint.config(
  { ignores: ['**/node_modules/**', '**/dist/**', 'data/**', 'packages/web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      'no-console': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    files: ['packages/protocol/src/**'],
    rules: restrict([{ group: ['@parley/*', '../../*'], message: 'protocol imports nothing internal' }]),
  },
  {
    files: ['packages/sdk/src/**'],
    rules: restrict([{ group: ['@parley/server', '@parley/server/*', '@parley/cli', '@parley/web', '../../server/*'], message: 'the SDK imports only @parley/protocol' }]),
  },
  {
    files: ['packages/web/src/**', 'packages/cli/src/client/**'],
    rules: restrict([{ group: ['@parley/server', '@parley/server/*', '../../server/*'], message: 'clients import the SDK and protocol, never the server' }]),
  },
  {
    files: ['packages/server/src/http/**', 'packages/server/src/ws/**'],
    rules: restrict([{ regex: 'modules/[^/]+/(?!index\\.ts$)', message: 'transports import a module only through its index.ts' }]),
  },
  {
    files: ['packages/server/src/modules/**'],
    rules: restrict([
      { group: ['**/http/*', '**/ws/*', '../../http/**', '../../ws/**'], message: 'modules never import a transport' },
      { regex: '^\\.\\./(?!\\.)[^/]+/(?!index\\.ts$)', message: 'modules reach each other only through index.ts' },
    ]),
  },
  {
    files: ['packages/server/src/storage/migrations/**'],
    rules: restrict([{ group: ['../../*', '@parley/*'], message: 'migrations are frozen in time: they import no application code' }]),
  },
  {
    files: ['packages/cli/src/**', 'bench/**', '**/*.test.ts', '**/test/**'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-explicit-any': 'off' },
  },
);

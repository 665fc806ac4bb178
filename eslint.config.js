// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'data/', 'dist/', 'coverage/', 'test-results/', 'console/dist/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  {
    // The console runs in the browser.
    files: ['console/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        window: 'readonly',
        location: 'readonly',
        navigator: 'readonly',
        sessionStorage: 'readonly',
        fetch: 'readonly',
        URLSearchParams: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
  },
  // The sandbox is a product of its own (a fake Jira): it must not lean on the service it tests.
  // (Its own webhooks/ folder shares a name with the service's src/webhooks: told apart by depth.)
  ...[
    ['src/sandbox/*.ts', '\\.\\./'],
    ['src/sandbox/*/*.ts', '\\.\\./\\.\\./'],
    ['src/sandbox/*/*/*.ts', '\\.\\./\\.\\./\\.\\./'],
  ].map(([files, up]) => ({
    files: [files],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: `^${up}(app|cli|config|engine|host|http|jira|queue|security|store|webhooks)/`,
              message: 'src/sandbox is independent of the service: it may import src/core, src/log and libraries.',
            },
          ],
        },
      ],
    },
  })),
  {
    // Lower layers never reach up into the composition root, the CLI, the HTTP shell or the sandbox.
    files: [
      'src/store/**/*.ts',
      'src/queue/**/*.ts',
      'src/jira/**/*.ts',
      'src/engine/**/*.ts',
      'src/host/**/*.ts',
      'src/webhooks/**/*.ts',
      'src/security/**/*.ts',
      'src/log/**/*.ts',
      'src/metrics/**/*.ts',
      'src/config/**/*.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(\\.\\./)+(app|cli|http|sandbox)/',
              message: 'only src/app and src/cli compose the layers; lower layers must not import them.',
            },
          ],
        },
      ],
    },
  },
  {
    // The pure core may not reach for I/O: that is the architecture's one hard rule.
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:fs*', 'node:net', 'node:http*', 'node:child_process', 'fs', 'http', 'https', 'net'],
              message: 'src/core is pure: no I/O.',
            },
            {
              group: [
                '**/store/**',
                '**/queue/**',
                '**/http/**',
                '**/jira/**',
                '**/engine/**',
                '**/sandbox/**',
                '**/cli/**',
                'kysely',
                'pg',
                'better-sqlite3',
                'fastify',
                'undici',
                'jira.js',
              ],
              message: 'src/core may import only src/core and pure libraries.',
            },
          ],
        },
      ],
    },
  },
);

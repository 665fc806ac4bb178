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
      },
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

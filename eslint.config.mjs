import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    // Plain CommonJS preloads for child processes we do not compile (local/loopbackOnly.cjs).
    files: ['**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Cosmos is reached through repository methods (issue #18): a repository's DocumentStore (`runs.store`) is
    // the store's own tool. Raw SQL or writes through it elsewhere bypass the queries the store owns.
    files: ['bot/**/*.ts', 'cards/**/*.ts', 'dialogs/**/*.ts', 'services/**/*.ts'],
    ignores: ['services/store/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector:
            "MemberExpression[object.type='MemberExpression'][object.property.name='store'][property.name=/^(read|get|create|tryCreate|tryReplace|upsert|update|upsertIfChanged|upsertManyIfChanged|delete|deletePartition|query|queryValues|queryPage|scalar|container)$/]",
          message: "A repository's DocumentStore belongs to services/store: add the query or write as a repository method and call that.",
        },
      ],
    },
  },
  {
    // Tests and benchmarks report to the terminal on purpose.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: { 'no-console': 'off', '@typescript-eslint/no-unused-expressions': 'off' },
  },
);

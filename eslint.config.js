// Lint, including the dependency directions of docs/architecture: workers import only the contract and the
// errors from src/; src/ never imports workers/; only src/http/ touches uWebSockets.js; only src/mcp/ the MCP SDK.
import tseslint from 'typescript-eslint';

const onlyHttp = { name: 'uWebSockets.js', message: 'Only src/http/ may import uWebSockets.js.' };
const onlyMcp = { group: ['@modelcontextprotocol/*', '@modelcontextprotocol/*/*'], message: 'Only src/mcp/ may import the MCP SDK.' };

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'bench/results/', 'coverage/'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-empty-function': 'off',
    },
  },
  {
    files: ['src/**/*.ts'],
    ignores: ['src/http/**', 'src/mcp/**'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [onlyHttp],
        patterns: [{ group: ['**/workers/**', '**/workers'], message: 'src/ must not import workers/: pools get the worker file path.' }, onlyMcp],
      }],
    },
  },
  {
    files: ['src/http/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [{ group: ['**/workers/**'], message: 'src/ must not import workers/.' }, onlyMcp],
      }],
    },
  },
  {
    files: ['workers/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        paths: [onlyHttp],
        patterns: [
          { regex: '(^|/)src/(?!contract/|errors/)',
            message: 'workers/ may import only src/contract/ and src/errors/ from the front thread.' },
          onlyMcp,
        ],
      }],
    },
  },
);

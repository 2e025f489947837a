// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layering: domain imports nothing of ours; scoring, routing and handoff are pure (domain, config);
// the store holds state; connectors use domain and their kit (connectors/*.ts), one CRM never the
// other's; the queue gets processors passed in; jobs orchestrate; http and cli are the entry points.
// Each entry below is a folder (or file) of ours as an import path names it, and why it is off limits.
const LAYER = {
  http: { group: ['**/http/**'], message: 'src/http is an entry point: nothing imports it.' },
  cli: {
    group: ['**/cli/**'],
    message: 'src/cli is an entry point: nothing imports it (render in the CLI).',
  },
  jobs: {
    group: ['**/jobs/**'],
    message:
      'jobs/ orchestrate: only entry points import them (processors reach the queue through jobs/index.ts).',
  },
  reports: { group: ['**/reports/**'], message: 'src/reports read the audit log for the entry points.' },
  queue: { group: ['**/queue/**'], message: 'src/queue runs jobs; only jobs and entry points use it.' },
  store: {
    group: ['**/store/**'],
    message: 'Redis state is for jobs and entry points; pure code takes values, not stores.',
  },
  connectors: { group: ['**/connectors/**'], message: 'Connectors are reached through jobs, not from here.' },
  scoring: { group: ['**/scoring/**'], message: 'Move what is shared to src/domain.' },
  routing: { group: ['**/routing/**'], message: 'Move what is shared to src/domain.' },
  handoff: { group: ['**/handoff/**'], message: 'Shared handoff types and the marker live in src/domain.' },
  effects: { group: ['**/logger.js', '**/metrics.js'], message: 'Pure code logs and counts nothing.' },
  hubspot: {
    group: ['**/hubspot/**'],
    message:
      'Only its own connector folder imports a CRM adapter: share through connectors/*.ts or src/domain.',
  },
  salesforce: {
    group: ['**/salesforce/**'],
    message:
      'Only its own connector folder imports a CRM adapter: share through connectors/*.ts or src/domain.',
  },
};

/**
 * A config block forbidding `files` to import the named layers.
 * @param {string[]} files
 * @param {(keyof typeof LAYER)[]} forbidden
 */
function layer(files, forbidden) {
  return {
    files,
    rules: { 'no-restricted-imports': ['error', { patterns: forbidden.map((name) => LAYER[name]) }] },
  };
}

/** @type {(keyof typeof LAYER)[]} */
const PURE = ['store', 'queue', 'connectors', 'jobs', 'reports', 'http', 'cli', 'effects'];
/** @type {(keyof typeof LAYER)[]} */
const CONNECTOR = ['http', 'cli', 'jobs', 'reports', 'handoff', 'routing'];
/** @type {(keyof typeof LAYER)[]} */
const STORE = ['connectors', 'queue', 'jobs', 'reports', 'http', 'cli', 'handoff', 'scoring', 'effects'];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'bench/results/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
    },
  },
  // Later blocks replace earlier ones for the same file, so each file gets exactly one list.
  layer(['src/*.ts', 'src/config/**/*.ts'], ['http', 'cli', 'jobs']),
  {
    files: ['src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['../**'], message: 'src/domain imports nothing of ours: everyone imports it.' },
          ],
        },
      ],
    },
  },
  // Pure: domain and config, and the pure helpers they build on (routing and handoff use scoring's matcher and engine).
  layer(['src/scoring/**/*.ts'], [...PURE, 'routing', 'handoff']),
  layer(['src/routing/**/*.ts'], [...PURE, 'handoff']),
  layer(['src/handoff/**/*.ts'], [...PURE, 'routing']),
  layer(['src/store/**/*.ts'], [...STORE, 'routing']),
  // The routing store runs the pure routing plan atomically in Redis.
  layer(['src/store/routing.ts'], STORE),
  // The queue knows the connector contract (types, errors) but no CRM, and gets processors passed in.
  layer(['src/queue/**/*.ts'], ['jobs', 'reports', 'http', 'cli', 'hubspot', 'salesforce']),
  layer(['src/reports/**/*.ts'], ['jobs', 'http', 'cli']),
  layer(['connectors/*.ts'], [...CONNECTOR, 'hubspot', 'salesforce']),
  layer(['connectors/hubspot/**/*.ts'], [...CONNECTOR, 'salesforce']),
  layer(['connectors/salesforce/**/*.ts'], [...CONNECTOR, 'hubspot']),
  layer(['jobs/**/*.ts'], ['http', 'cli']),
  // The dashboard's browser script: plain JS, no type information.
  { files: ['src/http/dashboard/**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['src/http/dashboard/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        location: 'readonly',
        fetch: 'readonly',
        URLSearchParams: 'readonly',
        setInterval: 'readonly',
      },
    },
  },
);

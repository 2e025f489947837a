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
  receive: {
    group: ['**/receive/**'],
    message:
      'src/receive is the edge: routes (and the CDC subscriber) hand it deliveries; jobs convert legacy payloads.',
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
const PURE = ['store', 'queue', 'connectors', 'jobs', 'receive', 'reports', 'http', 'cli', 'effects'];
/** @type {(keyof typeof LAYER)[]} */
const CONNECTOR = ['http', 'cli', 'jobs', 'receive', 'reports', 'handoff', 'routing'];
/** @type {(keyof typeof LAYER)[]} */
const RECEIVE = ['store', 'jobs', 'reports', 'http', 'cli', 'scoring', 'routing', 'handoff', 'effects'];
/** @type {(keyof typeof LAYER)[]} */
const STORE = [
  'connectors',
  'queue',
  'jobs',
  'receive',
  'reports',
  'http',
  'cli',
  'handoff',
  'scoring',
  'effects',
];

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
  layer(['src/*.ts', 'src/config/**/*.ts'], ['http', 'cli', 'jobs', 'receive']),
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
  layer(['src/queue/**/*.ts'], ['jobs', 'receive', 'reports', 'http', 'cli', 'hubspot', 'salesforce']),
  layer(['src/reports/**/*.ts'], ['jobs', 'receive', 'http', 'cli']),
  // Rep alert channels are an edge like a connector: Slack and SMTP clients, given the message.
  layer(
    ['src/alerts/**/*.ts'],
    [
      'http',
      'cli',
      'jobs',
      'receive',
      'reports',
      'queue',
      'store',
      'connectors',
      'handoff',
      'scoring',
      'routing',
    ],
  ),
  // Receivers are pure: raw delivery → the ingest shape of the job catalog, through the connectors'
  // pure parsing modules only; the route (or the CDC subscriber) enqueues.
  {
    files: ['src/receive/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...RECEIVE.map((name) => LAYER[name]),
            {
              group: ['**/queue/**', '!**/queue/catalog.js'],
              message:
                'Receivers make jobs, the route queues them: only the catalog (the ingest shape) is theirs.',
            },
            {
              group: [
                '**/connectors/**/*.js',
                '!**/connectors/hubspot/webhook.js',
                '!**/connectors/hubspot/signature.js',
                '!**/connectors/salesforce/outbound.js',
                '!**/connectors/salesforce/mapping.js',
              ],
              message: 'Receivers use only the connectors’ pure parsing and mapping modules.',
            },
          ],
        },
      ],
    },
  },
  layer(['connectors/*.ts'], [...CONNECTOR, 'hubspot', 'salesforce']),
  layer(['connectors/hubspot/**/*.ts'], [...CONNECTOR, 'salesforce']),
  layer(['connectors/salesforce/**/*.ts'], [...CONNECTOR, 'hubspot']),
  // The CDC subscriber is a transport, like an HTTP route: it hands each change event to its receiver.
  layer(['connectors/salesforce/cdc.ts'], [...CONNECTOR.filter((name) => name !== 'receive'), 'hubspot']),
  layer(['jobs/**/*.ts'], ['http', 'cli']),
  // The dashboard's browser script: plain JS, no type information.
  { files: ['src/http/dashboard/**/*.js'], ...tseslint.configs.disableTypeChecked },
  {
    files: ['src/http/dashboard/**/*.js'],
    languageOptions: {
      globals: {
        document: 'readonly',
        location: 'readonly',
        history: 'readonly',
        window: 'readonly',
        fetch: 'readonly',
        URLSearchParams: 'readonly',
        setInterval: 'readonly',
      },
    },
  },
);

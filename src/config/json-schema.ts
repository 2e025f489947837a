import { z } from 'zod';
import { Config, Decay, Matcher } from './schema.js';

type JsonSchema = Record<string, unknown>;

/**
 * JSON Schema of the config file, generated from the zod schema. Editors use it for completion and
 * inline errors through the `# yaml-language-server: $schema=./schema.json` line of config/*.yaml.
 *
 * - Input side (`io: 'input'`): keys with a default are optional, as they are in the YAML.
 * - Draft-07, the newest draft yaml-language-server (VS Code YAML, IntelliJ, Monaco) fully supports.
 * - Refinements are code and have no JSON Schema form. The two that editors benefit from most are
 *   restated below (one operator per matcher, one kind of decay); the cross-field ones (SQL ≥ MQL,
 *   unique rule ids, regexes that compile) are left to `leadflow config check`. Anything else zod
 *   cannot represent becomes `{}` (accept anything) instead of failing the generation.
 */
export function configJsonSchema(): JsonSchema {
  // A private registry, so the shared global one is not touched; an `id` puts the schema under
  // `definitions` and refers to it, instead of repeating the matcher at every place it is used.
  const metadata = z.registry<{ id?: string }>();
  metadata.add(Matcher, { id: 'Matcher' });
  const generated = z.toJSONSchema(Config, {
    target: 'draft-07',
    io: 'input',
    unrepresentable: 'any',
    metadata,
    override: ({ zodSchema, jsonSchema }) => {
      const schema = jsonSchema as JsonSchema;
      if (zodSchema === Matcher) {
        schema.oneOf = [
          { required: ['equals'] },
          { required: ['in'] },
          { required: ['contains'] },
          { required: ['regex'] },
          { anyOf: [{ required: ['min'] }, { required: ['max'] }] },
        ];
        schema.dependencies = { flags: ['regex'] };
      } else if (zodSchema === Decay) {
        schema.oneOf = [{ required: ['halfLifeDays'] }, { required: ['windowDays'] }];
      }
    },
  }) as JsonSchema;
  return canonical({
    ...generated,
    title: 'leadflow configuration',
    description:
      'Validated in full by `leadflow config check`, which also checks what this schema cannot: ' +
      'thresholds.sql ≥ thresholds.mql, unique rule ids and regular expressions that compile.',
  });
}

/** The text of config/schema.json: two-space indent, stable key order, trailing newline. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

// ---- stable key order --------------------------------------------------------------------------

const FIRST = ['$schema', '$ref', 'title', 'description', 'type'];
/** Keywords whose value is a map of name → schema. */
const SCHEMA_MAPS = new Set(['properties', 'definitions', 'patternProperties']);
/** Keywords whose value is a schema. */
const SCHEMAS = new Set(['items', 'additionalProperties', 'propertyNames', 'not', 'if', 'then', 'else']);
/** Keywords whose value is a list of schemas. */
const SCHEMA_LISTS = new Set(['anyOf', 'oneOf', 'allOf']);

/**
 * Keywords in a fixed order (the usual heading ones first, then alphabetical), definitions
 * alphabetical, and `properties` in declaration order, as the config file lays them out. Data
 * (`default`, `enum`, `required`, …) is left exactly as generated.
 */
function canonical(schema: JsonSchema): JsonSchema {
  const rank = (k: string) => (FIRST.includes(k) ? FIRST.indexOf(k) : FIRST.length);
  const keys = Object.keys(schema).sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  const out: JsonSchema = {};
  for (const key of keys) {
    const value = schema[key];
    if (SCHEMA_MAPS.has(key) && isObject(value)) {
      const names = Object.keys(value);
      if (key !== 'properties') names.sort();
      out[key] = Object.fromEntries(names.map((n) => [n, sub(value[n])]));
    } else if (SCHEMAS.has(key)) out[key] = sub(value);
    else if (SCHEMA_LISTS.has(key) && Array.isArray(value)) out[key] = value.map(sub);
    else out[key] = value;
  }
  return out;
}

function sub(value: unknown): unknown {
  return isObject(value) ? canonical(value) : value;
}

function isObject(value: unknown): value is JsonSchema {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

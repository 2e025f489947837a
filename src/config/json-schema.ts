import { z } from 'zod';
import { Config } from './schema.js';

/**
 * JSON Schema of the config file, generated from the zod schema (input side: defaults are
 * optional). Editors use it for completion and inline errors through the `$schema` line at the
 * top of config/*.yaml. Cross-field rules (thresholds, duplicate ids) are only in zod.
 */
export function configJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(Config, { io: 'input', unrepresentable: 'any' });
  return {
    ...schema,
    $id: 'https://leadflow.dev/schema/config.json',
    title: 'leadflow configuration',
  };
}

/** Stable text for config/schema.json, so a diff shows only real schema changes. */
export function configJsonSchemaText(): string {
  return `${JSON.stringify(configJsonSchema(), null, 2)}\n`;
}

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { configJsonSchema, configJsonSchemaText } from '../../src/config/json-schema.js';

describe('config JSON Schema', () => {
  it('config/schema.json is up to date with the zod schema (run `npm run config:schema`)', () => {
    expect(readFileSync('config/schema.json', 'utf8')).toBe(configJsonSchemaText());
  });

  it('describes every top-level key of the shipped config and rejects unknown ones', () => {
    const schema = configJsonSchema() as {
      properties: Record<string, unknown>;
      required?: string[];
      additionalProperties?: boolean;
    };
    const shipped = parse(readFileSync('config/default.yaml', 'utf8')) as Record<string, unknown>;
    for (const key of Object.keys(shipped)) expect(Object.keys(schema.properties)).toContain(key);
    expect(schema.required).toEqual(['scoring', 'thresholds']);
    expect(schema.additionalProperties).toBe(false);
  });

  it('is referenced from the shipped config so editors pick it up', () => {
    expect(readFileSync('config/default.yaml', 'utf8').split('\n')[0]).toBe(
      '# yaml-language-server: $schema=./schema.json',
    );
  });
});

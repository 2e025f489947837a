import { describe, expect, it } from 'vitest';
import { Config } from '../../src/config/schema.js';

/** The part of a zod 4 schema's definition the walk below reads. */
interface Node {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, Node>;
      innerType?: Node;
      element?: Node;
      valueType?: Node;
      options?: readonly Node[];
      defaultValue?: unknown;
    };
  };
}

/** Under an object, drops the wrappers that do not change its type (optional, default, prefault). */
function unwrap(node: Node): Node {
  const { type, innerType } = node._zod.def;
  return innerType && ['optional', 'default', 'prefault'].includes(type) ? unwrap(innerType) : node;
}

/**
 * Every object the schema fills in when it is left out (its path and how: `default` or
 * `prefault`), however deep; `[]` in a path stands for a list item, a map value or an alternative.
 */
function filledObjects(node: Node, path = ''): { path: string; how: string; value: unknown }[] {
  const { type, shape, innerType, element, valueType, options, defaultValue } = node._zod.def;
  const found = [];
  if (
    (type === 'default' || type === 'prefault') &&
    innerType &&
    unwrap(innerType)._zod.def.type === 'object'
  )
    found.push({ path, how: type, value: defaultValue });
  const children: (readonly [string, Node | undefined])[] = [
    ...Object.entries(shape ?? {}).map(([key, child]) => [path ? `${path}.${key}` : key, child] as const),
    [path, innerType],
    ...[element, valueType, ...(options ?? [])].map((child) => [`${path}[]`, child] as const),
  ];
  for (const [childPath, child] of children) if (child) found.push(...filledObjects(child, childPath));
  return found;
}

/** Every filled-in object reachable through objects alone (not inside lists or maps): a "section". */
function sections(): string[] {
  return filledObjects(Config)
    .map((f) => f.path)
    .filter((path) => !path.includes('[]'));
}

/** A nested object with `{}` at each of the paths (a parent path is created on the way). */
function emptyAt(paths: string[]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const path of paths) {
    let at = root;
    for (const key of path.split('.')) at = (at[key] ??= {}) as Record<string, unknown>;
  }
  return root;
}

describe('config defaults', () => {
  const minimal = { thresholds: { mql: 40, sql: 70 }, scoring: {} };

  it('fills every object left out with .prefault({}), so its leaves give the defaults', () => {
    const filled = filledObjects(Config);
    // The walk reaches the nested sections, not only the top level.
    expect(filled.map((f) => f.path)).toEqual(
      expect.arrayContaining([
        'routing',
        'routing.reps[].capacity',
        'sla.workingHours',
        'hubspot.fields.unmarket',
        'salesforce.fields.unmarketable',
        'webhooks.hubspot',
      ]),
    );
    expect(filled.filter((f) => f.how !== 'prefault' || JSON.stringify(f.value) !== '{}')).toEqual([]);
  });

  it('gives a section left out the same values as the section given empty, at every depth', () => {
    const everyEmpty = { ...emptyAt(sections()), ...minimal };
    expect(Object.keys(everyEmpty)).toEqual(
      expect.arrayContaining(['redis', 'routing', 'sla', 'pipeline', 'webhooks', 'hubspot', 'salesforce']),
    );
    expect(Config.parse(everyEmpty)).toEqual(Config.parse(minimal));
  });
});

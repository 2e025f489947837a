import type { Config } from '../src/config/schema.js';
import type { Owner } from '../src/domain/index.js';

// Config checks every CRM shares: the line format and the owner checks.

export interface CheckLine {
  level: 'ok' | 'warn' | 'error';
  what: string;
  message: string;
}

/** Lines and the function that adds one, as every check builds them. */
export function checkLines(): {
  lines: CheckLine[];
  add: (level: CheckLine['level'], what: string, message: string) => void;
} {
  const lines: CheckLine[] = [];
  return { lines, add: (level, what, message) => void lines.push({ level, what, message }) };
}

/**
 * Pure: each value the config writes or reads (`[config path, value]`) is one of the CRM's `options`
 * for it, e.g. a picklist's active values; one that is not is a `level` line naming the options.
 * `is` and `isNot` describe where the value must be, e.g. "a lifecyclestage option".
 */
export function checkValues(
  wanted: [path: string, value: string][],
  options: string[],
  where: { is: string; isNot: string },
  level: 'error' | 'warn' = 'error',
): CheckLine[] {
  return wanted.map(([what, value]): CheckLine =>
    options.includes(value)
      ? { level: 'ok', what, message: `"${value}" is ${where.is}` }
      : {
          level,
          what,
          message: `"${value}" is not ${where.isNot} (has: ${options.join(', ') || 'none'})`,
        },
  );
}

/** Pure: routed reps, their managers and the fallback owner exist in the CRM and are active. */
export function checkOwners(config: Config, owners: Owner[], where: string): CheckLine[] {
  const byId = new Map(owners.map((o) => [o.id, o]));
  const reps = config.routing.reps.map((r, i) => [`routing.reps[${i}]`, r.id, r.name] as const);
  const others = [
    ...config.routing.reps.flatMap((r, i) =>
      r.managerId ? [[`routing.reps[${i}].managerId`, r.managerId, 'manager'] as const] : [],
    ),
    ...(config.routing.fallbackOwnerId
      ? [['routing.fallbackOwnerId', config.routing.fallbackOwnerId, 'fallback'] as const]
      : []),
  ];
  return [...reps, ...others].map(([path, id, name]): CheckLine => {
    const owner = byId.get(id);
    if (!owner)
      return { level: 'error', what: path, message: `owner ${id} (${name}) does not exist in the ${where}` };
    if (!owner.active) return { level: 'error', what: path, message: `owner ${id} (${name}) is deactivated` };
    return { level: 'ok', what: path, message: `owner ${id} is ${owner.name ?? owner.email ?? 'active'}` };
  });
}

export function formatCheck(lines: CheckLine[], subject = 'portal'): string {
  const mark = { ok: '✓', warn: '!', error: '✗' };
  const errors = lines.filter((l) => l.level === 'error').length;
  const warnings = lines.filter((l) => l.level === 'warn').length;
  return (
    lines.map((l) => `${mark[l.level]} ${l.what}: ${l.message}`).join('\n') +
    `\n\n${errors ? `${errors} problem(s)` : `${subject} OK`}${warnings ? `, ${warnings} warning(s)` : ''}\n`
  );
}

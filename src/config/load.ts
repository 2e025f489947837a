import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { Config } from './schema.js';
import { ConfigError, formatIssues } from './errors.js';

/** Parses YAML text into a validated Config; throws ConfigError listing every problem. */
export function parseConfig(text: string, source = 'config'): Config {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => `YAML: ${e.message.split('\n')[0]}`),
    );
  }
  const result = Config.safeParse(doc.toJS() ?? {});
  if (!result.success) throw new ConfigError(source, formatIssues(result.error));
  return result.data;
}

export function loadConfig(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [`cannot read file: ${(err as Error).message}`]);
  }
  return parseConfig(text, path);
}

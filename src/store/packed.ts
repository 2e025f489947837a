import { deflateRawSync, inflateRawSync } from 'node:zlib';

/**
 * A small JSON value as stored in Redis: `0x01` then the JSON deflate-raw against a preset
 * dictionary of the field names and phrases every value of its kind shares (alone, ~1 KB of JSON
 * compresses poorly; against the dictionary it does). The dictionary is part of the format: a
 * changed one needs a new version byte. A value written before packing is JSON text and is read as it is.
 */
const VERSION_DEFLATE = 0x01;

export function packJson(value: unknown, dictionary: Buffer): Buffer {
  const json = Buffer.from(JSON.stringify(value));
  return Buffer.concat([Buffer.of(VERSION_DEFLATE), deflateRawSync(json, { dictionary, level: 9 })]);
}

export function unpackJson(raw: Buffer, dictionary: Buffer): unknown {
  const json = raw[0] === VERSION_DEFLATE ? inflateRawSync(raw.subarray(1), { dictionary }) : raw;
  return JSON.parse(json.toString('utf8'));
}

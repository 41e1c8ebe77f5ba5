import { ProtocolError } from './protocol-error';

/** The prefix the report puts before every base64-encoded <info> attribute value. */
export const BASE64_PREFIX = '__BASE64:';
/** Listings 2.3 and 2.5 of the report show a single underscore; accepted on input only. */
const LEGACY_BASE64_PREFIX = '_BASE64:';
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The bytes of padded, standard-alphabet base64, or undefined when `value` is not that. */
export function strictBase64Bytes(value: string): Buffer | undefined {
  if (value.length % 4 !== 0 || !BASE64_PATTERN.test(value)) return undefined;
  return Buffer.from(value, 'base64');
}

export function encodeAttributeValue(value: string): string {
  return BASE64_PREFIX + Buffer.from(value, 'utf8').toString('base64');
}

/**
 * Decodes an attribute value as sent by any Co-Pilot component. Values without a prefix are taken
 * as plain text, as a lenient peer would; a prefixed value must be valid base64 of valid UTF-8.
 */
export function decodeAttributeValue(name: string, raw: string): string {
  let encoded: string;
  if (raw.startsWith(BASE64_PREFIX)) encoded = raw.slice(BASE64_PREFIX.length);
  else if (raw.startsWith(LEGACY_BASE64_PREFIX)) encoded = raw.slice(LEGACY_BASE64_PREFIX.length);
  else return raw;

  const bytes = strictBase64Bytes(encoded.replace(/\s+/g, ''));
  if (!bytes) throw new ProtocolError('bad-base64', `attribute '${name}' is not valid base64`);
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new ProtocolError('bad-base64', `attribute '${name}' does not decode to UTF-8 text`);
  }
}

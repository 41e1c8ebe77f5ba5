import { ProtocolError } from './protocol-error';

/**
 * The prefix before every base64-encoded <info> attribute value we send: the job protocol's
 * listings (2.3, 2.5, 2.6) and the original components use one underscore, and the original
 * decodes nothing else.
 */
export const BASE64_PREFIX = '_BASE64:';
/** The monitoring listing (2.2) shows two underscores; accepted on input only. */
const DOUBLE_UNDERSCORE_PREFIX = '__BASE64:';
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
  else if (raw.startsWith(DOUBLE_UNDERSCORE_PREFIX))
    encoded = raw.slice(DOUBLE_UNDERSCORE_PREFIX.length);
  else return raw;

  const bytes = strictBase64Bytes(encoded.replace(/\s+/g, ''));
  if (!bytes) throw new ProtocolError('bad-base64', `attribute '${name}' is not valid base64`);
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    throw new ProtocolError('bad-base64', `attribute '${name}' does not decode to UTF-8 text`);
  }
}

/**
 * Chirp's request lines and reply lines, as cctools 7–9 speak them (chirp_client.c,
 * chirp_server.c, chirp_protocol.h). Requests are one line each; paths in them are encoded as
 * cctools' url_encode does, because the server reads every argument with sscanf("%s") and
 * url-decodes paths. Replies are parsed strictly: anything else is an EPROTO ChirpError.
 */
import { ChirpError } from './chirp-error';

/** CHIRP_LINE_MAX: the server reads request lines into a buffer of this size (with the NUL). */
export const CHIRP_LINE_MAX = 1024;
/** CHIRP_PATH_MAX; the server prepends '/' to every decoded path. */
const CHIRP_PATH_MAX = 1024;

/** Bytes url_encode leaves alone: printable ASCII from '!' to 'z' but for these five. */
function needsEscape(byte: number): boolean {
  return (
    byte <= 0x20 ||
    byte > 0x7a ||
    byte === 0x25 || // %
    byte === 0x5c || // \
    byte === 0x3c || // <
    byte === 0x3e || // >
    byte === 0x27 || // '
    byte === 0x22 // "
  );
}

/** A path as a request argument. Throws EINVAL/ENAMETOOLONG for what the server cannot take. */
export function encodeChirpPath(path: string): string {
  if (path === '') throw new ChirpError('EINVAL', 'empty Chirp path');
  if (path.includes('\0')) throw new ChirpError('EINVAL', 'Chirp path contains a NUL byte');
  const bytes = Buffer.from(path, 'utf8');
  if (bytes.length + 2 > CHIRP_PATH_MAX) {
    throw new ChirpError('ENAMETOOLONG', `Chirp path is ${bytes.length} bytes long`);
  }
  let encoded = '';
  for (const byte of bytes) {
    encoded += needsEscape(byte)
      ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
      : String.fromCharCode(byte);
  }
  return encoded;
}

/** One request line: its arguments must hold no white space (paths are encoded first). */
export function requestLine(...words: readonly (string | number)[]): string {
  const line = `${words.join(' ')}\n`;
  if (Buffer.byteLength(line) >= CHIRP_LINE_MAX) {
    throw new ChirpError('ENAMETOOLONG', `Chirp request is over ${CHIRP_LINE_MAX - 1} bytes`);
  }
  return line;
}

/** An ACL subject such as `address:192.0.2.7`, `hostname:*.cern.ch` or `unix:copilot`. */
export function checkAclSubject(subject: string): string {
  if (!/^[a-z]+:[\x21-\x7e]+$/.test(subject) || subject.length > 256) {
    throw new ChirpError('EINVAL', `bad Chirp ACL subject ${JSON.stringify(subject)}`);
  }
  return subject;
}

/** Rights as chirp_acl_text_to_flags reads them: `rwl`, `rwlda`, `v(rwl)`, or `n` for none. */
export function checkAclRights(rights: string): string {
  if (rights !== 'n' && !/^[rwldpax]*(?:v(?:\([rwldpvax]*\))?)?[rwldpax]*$/.test(rights)) {
    throw new ChirpError('EINVAL', `bad Chirp ACL rights ${JSON.stringify(rights)}`);
  }
  if (rights === '') throw new ChirpError('EINVAL', 'empty Chirp ACL rights (use "n")');
  return rights;
}

function protocolError(what: string, line: string): ChirpError {
  return new ChirpError('EPROTO', `malformed Chirp reply (${what}): ${JSON.stringify(line)}`);
}

/** A result line: a decimal integer, negative for an error. */
export function parseResult(line: string): number {
  if (!/^-?\d{1,16}$/.test(line)) throw protocolError('result', line);
  return Number(line);
}

export interface ChirpStat {
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  /** Seconds since the epoch. */
  atime: number;
  mtime: number;
  ctime: number;
  isDirectory: boolean;
  isFile: boolean;
}

const S_IFMT = 0o170000;

/** chirp_stat_encode: dev ino mode nlink uid gid rdev size blksize blocks atime mtime ctime. */
export function parseStat(line: string): ChirpStat {
  const fields = line.split(' ');
  if (fields.length !== 13 || !fields.every((field) => /^-?\d{1,19}$/.test(field))) {
    throw protocolError('stat', line);
  }
  const numbers = fields.map(Number);
  if (!numbers.every(Number.isSafeInteger)) throw protocolError('stat', line);
  const at = (index: number): number => numbers[index] as number;
  const fileType = at(2) & S_IFMT;
  return {
    mode: at(2),
    nlink: at(3),
    uid: at(4),
    gid: at(5),
    size: at(7),
    atime: at(10),
    mtime: at(11),
    ctime: at(12),
    isDirectory: fileType === 0o040000,
    isFile: fileType === 0o100000,
  };
}

export interface ChirpAclEntry {
  subject: string;
  rights: string;
}

/** One getacl line: `<subject> <rights>`. */
export function parseAclLine(line: string): ChirpAclEntry {
  const match = /^(\S+) ([rwldpavxn()]+)$/.exec(line);
  if (!match?.[1] || !match[2]) throw protocolError('acl', line);
  return { subject: match[1], rights: match[2] };
}

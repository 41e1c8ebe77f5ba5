import { CopilotError } from '../base/errors';

/** Every way an incoming stanza can be unusable. Each is a clear, typed error, never a crash. */
export type ProtocolErrorCode =
  | 'malformed-xml'
  | 'not-a-message'
  | 'no-body'
  | 'no-info'
  | 'bad-base64'
  | 'unknown-command'
  | 'missing-attribute'
  | 'invalid-attribute'
  | 'oversize'
  /** Secure mode refused the message: tampered, replayed, too old, wrong key or not encrypted. */
  | 'rejected-secure';

/** Catalogued as PROTOCOL_INVALID; `code` keeps the finer reason. */
export class ProtocolError extends CopilotError {
  declare readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super('PROTOCOL_INVALID', message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}

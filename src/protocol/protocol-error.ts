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

export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string) {
    super(message);
    this.name = 'ProtocolError';
    this.code = code;
  }
}

export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof ProtocolError;
}

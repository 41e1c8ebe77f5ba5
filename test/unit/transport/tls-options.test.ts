import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sessionTlsFromConfig } from '@copilot/transport/tls-options';

describe('sessionTlsFromConfig', () => {
  it('leaves xmpp.js STARTTLS alone when neither variable is set', () => {
    expect(sessionTlsFromConfig(undefined, undefined)).toBeUndefined();
    expect(sessionTlsFromConfig('', '0')).toBeUndefined();
  });

  it('reads the CA file and the require flag', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-tls-options-'));
    const ca = path.join(dir, 'ca.pem');
    fs.writeFileSync(ca, '-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n');
    try {
      expect(sessionTlsFromConfig(ca, undefined)).toEqual({
        requireTls: false,
        ca: fs.readFileSync(ca, 'utf8'),
      });
      expect(sessionTlsFromConfig(undefined, 'yes')).toEqual({ requireTls: true });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names an unreadable CA file', () => {
    expect(() => sessionTlsFromConfig('/nonexistent/ca.pem', '1')).toThrow(
      /CA file \/nonexistent\/ca.pem cannot be read/,
    );
  });
});

/**
 * xmpp.js's SCRAM-SHA-1 (the sasl-scram-sha-1 package) computes the salted password with one
 * WebCrypto HMAC (and one key import) per iteration, awaited one by one: 4,096 iterations, as
 * ejabberd asks, take about 0.2 s of the event loop per login here, so 10,000 simulated agents
 * would need half an hour to log in, and the bench would measure its own logins. This replaces
 * that function, in the bench process only, with Node's PBKDF2-HMAC-SHA1 on the thread pool,
 * which computes the same value (RFC 5802's Hi is PBKDF2 with a 20-byte output).
 */
import crypto from 'node:crypto';
import { createRequire } from 'node:module';

type Hi = (text: string, salt: Uint8Array, iterations: number) => Promise<Uint8Array>;

let installed = false;

export function installFastScram(): void {
  if (installed) return;
  const require = createRequire(import.meta.url);
  const bitops = require('sasl-scram-sha-1/lib/bitops.js') as { Hi: Hi };
  bitops.Hi = (text, salt, iterations) =>
    new Promise((resolve, reject) => {
      crypto.pbkdf2(text, salt, iterations, 20, 'sha1', (error, key) => {
        if (error) reject(error);
        else resolve(new Uint8Array(key));
      });
    });
  installed = true;
}

import { scheduleProblem } from './schedule';
import type { TextCheck } from './settings-spec';

/** The text checks a settings spec entry names: each returns a problem, or null. */

const JID_PATTERN = /^[^@/\s]+@[^@/\s]+(\/\S+)?$/;
const HOST_PATTERN = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$/;
const NAME_PATTERN = /^[^@/\s]+$/;
const REGISTRY_PATTERN =
  /^([a-z0-9-]+(\.[a-z0-9-]+)*|\[[0-9a-f:]+\])(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)*\/?$/;
const PUBLIC_KEY_PEM =
  /^-----BEGIN (RSA )?PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END (RSA )?PUBLIC KEY-----$/;
const CERTIFICATE_PEM =
  /^(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

const TEXT_CHECKS: Readonly<Record<TextCheck, (value: string) => string | null>> = {
  'jid-list': (value) =>
    value
      .split(/[\s,]+/)
      .filter((address) => address !== '')
      .every((address) => JID_PATTERN.test(address))
      ? null
      : 'must be a Jabber ID such as jm@xmpp.example.org (several: separated by spaces)',
  'host-port': (value) =>
    HOST_PATTERN.test(value) ? null : 'must be a host name, optionally with :port',
  domain: (value) =>
    HOST_PATTERN.test(value) && !value.includes(':') ? null : 'must be a domain name',
  name: (value) => (NAME_PATTERN.test(value) ? null : 'must not contain @, / or spaces'),
  'public-key-pem': (value) =>
    PUBLIC_KEY_PEM.test(value) ? null : 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)',
  'certificate-pem': (value) =>
    CERTIFICATE_PEM.test(value) ? null : 'must be PEM certificates (-----BEGIN CERTIFICATE-----)',
  schedule: scheduleProblem,
  'registry-list': (value) =>
    value
      .split(/[\s,]+/)
      .filter((entry) => entry !== '')
      .every((entry) => REGISTRY_PATTERN.test(entry))
      ? null
      : 'must be registries such as registry.example.org:5000/project (several: separated by spaces)',
};

/** Checks trimmed text; an empty value always passes (the setting is then unset). */
export function checkText(check: TextCheck | undefined, value: string): string | null {
  if (value === '' || check === undefined) return null;
  return TEXT_CHECKS[check](value);
}

import type { AgentSettings, PublicSettings, SettingsError } from './ui-contract';

/** Defaults a fresh install starts with: half the CPU, only when idle, one job at a time. */
export const DEFAULT_SETTINGS: AgentSettings = {
  jobManagerAddress: '',
  xmppServer: '',
  xmppDomain: '',
  xmppUsername: '',
  xmppPassword: '',
  cpuLimitPercent: 50,
  runOnlyWhenIdle: true,
  idleMinutes: 3,
  memoryLimitMb: 2048,
  diskLimitMb: 10_240,
  jobSlots: 1,
  startAtLogin: true,
  paused: false,
  heartbeatChatServer: '',
  heartbeatChatRoom: '',
  secureMode: false,
  jobManagerPublicKey: '',
  xmppCaCertificate: '',
  requireTls: false,
  allowJobNetwork: false,
};

/**
 * Settings the UI may write but never read back. getSettings blanks them (publicSettings), and an
 * empty value in a patch keeps the stored one, so a form can leave the field empty.
 */
export const SECRET_FIELDS = ['xmppPassword'] as const satisfies ReadonlyArray<keyof AgentSettings>;
const SECRETS: ReadonlySet<keyof AgentSettings> = new Set(SECRET_FIELDS);

/** The settings as the UI sees them (getSettings, setSettings' result): no secret in them. */
export function publicSettings(settings: AgentSettings): PublicSettings {
  return { ...settings, xmppPassword: '', xmppPasswordSet: settings.xmppPassword !== '' };
}

interface NumberRule {
  min: number;
  max: number;
  integer: boolean;
  label: string;
}

/** Settings that make up the XMPP connection: changing one means reconnecting. */
export const CONNECTION_FIELDS: ReadonlyArray<keyof AgentSettings> = [
  'xmppServer',
  'xmppDomain',
  'xmppUsername',
  'xmppPassword',
  'heartbeatChatServer',
  'heartbeatChatRoom',
  'secureMode',
  'jobManagerPublicKey',
  'xmppCaCertificate',
  'requireTls',
];

export const NUMBER_RULES: Readonly<Partial<Record<keyof AgentSettings, NumberRule>>> = {
  cpuLimitPercent: { min: 1, max: 100, integer: true, label: 'CPU limit' },
  idleMinutes: { min: 1, max: 1440, integer: true, label: 'Idle minutes' },
  memoryLimitMb: { min: 64, max: 1_048_576, integer: true, label: 'Memory cap' },
  diskLimitMb: { min: 100, max: 10_485_760, integer: true, label: 'Disk cap' },
  jobSlots: { min: 1, max: 64, integer: true, label: 'Job slots' },
};

const BOOLEAN_FIELDS: ReadonlySet<keyof AgentSettings> = new Set([
  'runOnlyWhenIdle',
  'startAtLogin',
  'paused',
  'secureMode',
  'requireTls',
  'allowJobNetwork',
]);

const JID_PATTERN = /^[^@/\s]+@[^@/\s]+(\/\S+)?$/;
const HOST_PATTERN = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$/;
const NAME_PATTERN = /^[^@/\s]+$/;
const PUBLIC_KEY_PEM =
  /^-----BEGIN (RSA )?PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END (RSA )?PUBLIC KEY-----$/;
const CERTIFICATE_PEM =
  /^(-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*)+$/;

function checkText(field: keyof AgentSettings, value: string): string | null {
  if (value === '') return null;
  switch (field) {
    case 'jobManagerAddress':
      return value
        .split(/[\s,]+/)
        .filter((address) => address !== '')
        .every((address) => JID_PATTERN.test(address))
        ? null
        : 'must be a Jabber ID such as jm@xmpp.example.org (several: separated by spaces)';
    case 'xmppServer':
      return HOST_PATTERN.test(value) ? null : 'must be a host name, optionally with :port';
    case 'xmppDomain':
    case 'heartbeatChatServer':
      return HOST_PATTERN.test(value) && !value.includes(':') ? null : 'must be a domain name';
    case 'xmppUsername':
    case 'heartbeatChatRoom':
      return NAME_PATTERN.test(value) ? null : 'must not contain @, / or spaces';
    case 'jobManagerPublicKey':
      return PUBLIC_KEY_PEM.test(value)
        ? null
        : 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)';
    case 'xmppCaCertificate':
      return CERTIFICATE_PEM.test(value)
        ? null
        : 'must be PEM certificates (-----BEGIN CERTIFICATE-----)';
    default:
      return null;
  }
}

/**
 * Checks a settings patch field by field. Unknown fields and wrong types are errors, so that a
 * buggy or hostile UI cannot store garbage.
 */
export function validateSettingsPatch(patch: Readonly<Record<string, unknown>>): SettingsError[] {
  const errors: SettingsError[] = [];
  for (const [name, value] of Object.entries(patch)) {
    // Own keys only: `in` would also accept 'constructor', 'toString', '__proto__'.
    if (!Object.hasOwn(DEFAULT_SETTINGS, name)) {
      errors.push({ field: name as keyof AgentSettings, message: `unknown setting '${name}'` });
      continue;
    }
    const field = name as keyof AgentSettings;
    const rule = NUMBER_RULES[field];
    if (rule) {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        errors.push({ field, message: `${rule.label} must be a number` });
      } else if (rule.integer && !Number.isInteger(value)) {
        errors.push({ field, message: `${rule.label} must be a whole number` });
      } else if (value < rule.min || value > rule.max) {
        errors.push({
          field,
          message: `${rule.label} must be between ${rule.min} and ${rule.max}`,
        });
      }
    } else if (BOOLEAN_FIELDS.has(field)) {
      if (typeof value !== 'boolean')
        errors.push({ field, message: `${field} must be true or false` });
    } else if (typeof value !== 'string') {
      errors.push({ field, message: `${field} must be text` });
    } else {
      const problem = checkText(field, value.trim());
      if (problem) errors.push({ field, message: problem });
    }
  }
  return errors;
}

export function applySettingsPatch(
  current: AgentSettings,
  patch: Partial<AgentSettings>,
): { settings: AgentSettings; errors: SettingsError[] } {
  const errors = validateSettingsPatch(patch);
  if (errors.length > 0) return { settings: current, errors };
  const trimmed: Partial<AgentSettings> = {};
  for (const [name, value] of Object.entries(patch)) {
    const field = name as keyof AgentSettings;
    if (SECRETS.has(field)) {
      // Empty keeps the current secret; a new one is taken as typed (spaces may be part of it).
      if (value !== '') (trimmed as Record<string, unknown>)[name] = value;
      continue;
    }
    (trimmed as Record<string, unknown>)[name] = typeof value === 'string' ? value.trim() : value;
  }
  const settings = { ...current, ...trimmed };
  if (settings.secureMode && settings.jobManagerPublicKey === '') {
    const message = "secure mode needs the job manager's public key";
    return { settings: current, errors: [{ field: 'jobManagerPublicKey', message }] };
  }
  return { settings, errors };
}

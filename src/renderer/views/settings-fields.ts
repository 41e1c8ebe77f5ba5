import { DEFAULT_SETTINGS } from '../../contract/settings';
import type { AgentSettings } from '../../contract/ui-contract';

export type FieldKind = 'text' | 'password' | 'number' | 'checkbox' | 'textarea';

export interface FieldSpec {
  key: keyof AgentSettings;
  label: string;
  kind: FieldKind;
  hint?: string;
  unit?: string;
  placeholder?: string;
}

/** The settings form, grouped as a volunteer thinks about it. `paused` is the Pause button. */
export const SETTINGS_GROUPS: ReadonlyArray<{ title: string; fields: FieldSpec[] }> = [
  {
    title: 'Project',
    fields: [
      {
        key: 'jobManagerAddress',
        label: 'Job manager',
        kind: 'text',
        placeholder: 'jm@xmpp.example.org',
        hint: 'The Jabber ID work requests are sent to.',
      },
      {
        key: 'xmppServer',
        label: 'XMPP server',
        kind: 'text',
        placeholder: 'xmpp.example.org:5222',
      },
      { key: 'xmppDomain', label: 'XMPP domain', kind: 'text', placeholder: 'example.org' },
      { key: 'xmppUsername', label: 'User name', kind: 'text', placeholder: 'volunteer42' },
      { key: 'xmppPassword', label: 'Password', kind: 'password' },
    ],
  },
  {
    title: 'Computing',
    fields: [
      { key: 'cpuLimitPercent', label: 'CPU limit', kind: 'number', unit: '% of all cores' },
      { key: 'memoryLimitMb', label: 'Memory cap', kind: 'number', unit: 'MB per job' },
      { key: 'diskLimitMb', label: 'Disk cap', kind: 'number', unit: 'MB per job' },
      { key: 'jobSlots', label: 'Job slots', kind: 'number', unit: 'jobs at once' },
      {
        key: 'allowJobNetwork',
        label: 'Let jobs use the network when they ask',
        kind: 'checkbox',
        hint: 'Off: jobs cannot reach the internet or your local network.',
      },
    ],
  },
  {
    title: 'When to compute',
    fields: [
      {
        key: 'runOnlyWhenIdle',
        label: 'Only when the computer is idle',
        kind: 'checkbox',
        hint: 'Jobs pause when you use the keyboard or mouse.',
      },
      { key: 'idleMinutes', label: 'Idle after', kind: 'number', unit: 'minutes without input' },
      { key: 'startAtLogin', label: 'Start Co-Pilot Desktop when I log in', kind: 'checkbox' },
    ],
  },
  {
    title: 'Heartbeat (optional)',
    fields: [
      {
        key: 'heartbeatChatServer',
        label: 'Chat server',
        kind: 'text',
        placeholder: 'conference.example.org',
      },
      { key: 'heartbeatChatRoom', label: 'Chat room', kind: 'text', placeholder: 'pilots-lounge' },
    ],
  },
  {
    title: 'Security',
    fields: [
      {
        key: 'secureMode',
        label: 'Secure mode: encrypt job messages for the job manager',
        kind: 'checkbox',
        hint: "Only if your project uses it; it gives you the job manager's public key.",
      },
      {
        key: 'jobManagerPublicKey',
        label: "Job manager's public key",
        kind: 'textarea',
        placeholder: '-----BEGIN PUBLIC KEY-----',
      },
      {
        key: 'requireTls',
        label: 'Connect only over an encrypted (TLS) connection',
        kind: 'checkbox',
      },
      {
        key: 'xmppCaCertificate',
        label: "XMPP server's certificate authority (optional)",
        kind: 'textarea',
        placeholder: '-----BEGIN CERTIFICATE-----',
        hint: 'For a server whose certificate is not signed by a public authority.',
      },
    ],
  },
];

export type Draft = Record<keyof AgentSettings, string | boolean>;

/** The form's values: every setting (not read-only extras such as `xmppPasswordSet`) as text. */
export function toDraft(settings: AgentSettings): Draft {
  const draft = {} as Draft;
  for (const key of Object.keys(DEFAULT_SETTINGS) as Array<keyof AgentSettings>) {
    const value = settings[key];
    draft[key] = typeof value === 'number' ? String(value) : value;
  }
  return draft;
}

const NUMBER_KEYS: ReadonlySet<keyof AgentSettings> = new Set(
  SETTINGS_GROUPS.flatMap((g) => g.fields.filter((f) => f.kind === 'number').map((f) => f.key)),
);

/** What the form value means as a setting: numbers parsed (blank is NaN, so it is rejected). */
export function draftValue(key: keyof AgentSettings, raw: string | boolean): unknown {
  if (typeof raw === 'boolean') return raw;
  if (NUMBER_KEYS.has(key)) return raw.trim() === '' ? Number.NaN : Number(raw);
  return raw;
}

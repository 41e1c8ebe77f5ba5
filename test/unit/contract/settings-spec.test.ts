import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CONNECTION_FIELDS,
  DEFAULT_SETTINGS,
  HEADLESS_DEFAULT_SETTINGS,
  SECRET_FIELDS,
  SETTING_KEYS,
  publicSettings,
  validateSettingsPatch,
} from '@copilot/contract/settings';
import {
  defaultsOf,
  keysWhere,
  patchProblems,
  type AnySettingsSpec,
} from '@copilot/contract/settings-derive';
import { SETTINGS_SPEC, type SettingSpec, type TextCheck } from '@copilot/contract/settings-spec';
import type { AgentSettings } from '@copilot/contract/ui-contract';
import { loadAgentConfig, saveSettingsOverlay } from '@copilot/cli/agent-config';
import { CONFIG_FILE_FIELDS } from '@copilot/cli/config-file-settings';
import { readConfigSettings, settingVariable } from '@copilot/cli/settings-from-config';
import { settingsSchema, settingsSchemaOf } from '@copilot/main/settings-schema';
import { ENCRYPTED_PASSWORD_KEY } from '@copilot/main/settings-repository';
import { SETTINGS_GROUPS, settingsGroupsOf } from '@copilot/renderer/views/settings-fields';
import { ConfigValues } from '@copilot/protocol/config-file';

const SPEC: AnySettingsSpec = SETTINGS_SPEC;
const keys = (test: (entry: SettingSpec) => boolean) => keysWhere(SPEC, test).sort();
const sorted = (list: Iterable<string>) => [...list].sort();
const formKeys = (groups: ReadonlyArray<{ fields: Array<{ key: string }> }>) =>
  groups.flatMap((group) => group.fields.map((field) => field.key));

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_KEY_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString().trim();
const CERTIFICATE_PEM =
  '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n-----END CERTIFICATE-----';

/** A valid value for each text check, unlike every default. */
const TEXT_SAMPLES: Record<TextCheck, string> = {
  'jid-list': 'jm2@xmpp.example.org',
  'host-port': 'xmpp.example.org:5223',
  domain: 'example.org',
  name: 'sample-name',
  'public-key-pem': PUBLIC_KEY_PEM,
  'certificate-pem': CERTIFICATE_PEM,
  schedule: 'Mon-Fri 18:00-08:00; Sat,Sun 00:00-24:00',
  'registry-list': '127.0.0.1:5000 registry.example.org/cern/jobs',
};

/** A valid value for an entry that differs from its (headless) default. */
function sampleOf(entry: SettingSpec): string | number | boolean {
  switch (entry.type) {
    case 'integer':
    case 'number':
      return entry.default === entry.min ? entry.max : entry.min;
    case 'boolean':
      return !(entry.headlessDefault ?? entry.default);
    case 'secret':
      return 'a secret';
    case 'text':
    case 'pem-file':
      return entry.check ? TEXT_SAMPLES[entry.check] : 'some text';
  }
}

describe('the settings spec reaches every derived place', () => {
  const all = sorted(Object.keys(SPEC));

  it('the settings, their defaults and the validation cover exactly the spec', () => {
    const typed: Record<keyof AgentSettings, true> = Object.fromEntries(
      SETTING_KEYS.map((key) => [key, true]),
    ) as Record<keyof AgentSettings, true>;
    expect(sorted(Object.keys(typed))).toEqual(all);
    expect(sorted(Object.keys(DEFAULT_SETTINGS))).toEqual(all);
    expect(sorted(Object.keys(HEADLESS_DEFAULT_SETTINGS))).toEqual(all);
    expect(validateSettingsPatch({ ...DEFAULT_SETTINGS })).toEqual([]);
    expect(validateSettingsPatch({ ...HEADLESS_DEFAULT_SETTINGS })).toEqual([]);
    for (const [key, entry] of Object.entries(SPEC)) {
      expect(validateSettingsPatch({ [key]: sampleOf(entry) }), key).toEqual([]);
      expect(validateSettingsPatch({ [key]: [] }), key).toHaveLength(1);
    }
  });

  it('the field lists follow the entries', () => {
    expect(sorted(CONNECTION_FIELDS)).toEqual(keys((entry) => entry.reconnects === true));
    expect(sorted(SECRET_FIELDS)).toEqual(keys((entry) => entry.type === 'secret'));
    expect(sorted(CONFIG_FILE_FIELDS)).toEqual(keys((entry) => entry.headless === 'config-file'));
    // A change that reconnects cannot be taken from the GUI of a headless agent.
    expect(CONNECTION_FIELDS.filter((key) => !CONFIG_FILE_FIELDS.includes(key))).toEqual([]);
    const shown = publicSettings({ ...DEFAULT_SETTINGS, xmppPassword: 'pw' });
    for (const field of SECRET_FIELDS) {
      expect(shown[field]).toBe('');
      expect(shown).toHaveProperty(`${field}Set`, true);
    }
  });

  it('the electron-store schema has every setting, typed and ranged as the spec says', () => {
    const schema = settingsSchema() as Record<string, Record<string, unknown>>;
    expect(sorted(Object.keys(schema))).toEqual(sorted([...all, ENCRYPTED_PASSWORD_KEY]));
    for (const [key, entry] of Object.entries(SPEC)) {
      expect(schema[key]?.default, key).toBe(entry.default);
      if (entry.type === 'integer') {
        expect(schema[key], key).toMatchObject({ minimum: entry.min, maximum: entry.max });
      }
    }
  });

  it('the settings form shows every setting with a form placement, once, and only paused has none', () => {
    expect(sorted(formKeys(SETTINGS_GROUPS))).toEqual(keys((entry) => entry.form !== undefined));
    expect(new Set(formKeys(SETTINGS_GROUPS)).size).toBe(formKeys(SETTINGS_GROUPS).length);
    expect(keys((entry) => entry.form === undefined)).toEqual(['paused']);
    for (const group of SETTINGS_GROUPS)
      expect(group.fields.length, group.title).toBeGreaterThan(0);
  });

  it('the headless agent reads every config variable, and takes the headless default otherwise', () => {
    const variables = Object.values(SPEC).flatMap((entry) => entry.config?.variable ?? []);
    expect(new Set(variables).size).toBe(variables.length);
    const files: Record<string, string> = {};
    const env: Record<string, string> = { AGENT_WORK_DIR: '/var/lib/copilot-agent' };
    for (const [key, entry] of Object.entries(SPEC)) {
      if (!entry.config) continue;
      expect(settingVariable(key)).toBe(entry.config.variable);
      const sample = String(sampleOf(entry));
      if (entry.type === 'pem-file') files[`/etc/${key}.pem`] = `${sample}\n`;
      env[entry.config.variable] = entry.type === 'pem-file' ? `/etc/${key}.pem` : sample;
    }
    const readFile = (file: string): string => {
      const text = files[file];
      if (text === undefined) throw new Error(`ENOENT: ${file}`);
      return text;
    };
    const { settings } = loadAgentConfig({ argv: [], env, readFile });
    for (const [key, entry] of Object.entries(SPEC)) {
      const expected = entry.config
        ? sampleOf(entry)
        : HEADLESS_DEFAULT_SETTINGS[key as keyof AgentSettings];
      expect(settings[key as keyof AgentSettings], key).toBe(expected);
    }
  });

  it('the headless overlay keeps exactly the settings the GUI may change', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'overlay-'));
    try {
      saveSettingsOverlay(DEFAULT_SETTINGS, dir);
      const stored = JSON.parse(fs.readFileSync(path.join(dir, 'agent-settings.json'), 'utf8'));
      expect(sorted(Object.keys(stored as object))).toEqual(
        keys((entry) => entry.headless === 'overlay'),
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('adding an entry to the spec', () => {
  const gpuLimitPercent: SettingSpec = {
    type: 'integer',
    min: 0,
    max: 100,
    default: 0,
    label: 'GPU limit',
    headless: 'config-file',
    config: { variable: 'AGENT_GPU_LIMIT_PERCENT' },
    form: { group: 'computing', unit: '% of the GPU' },
  };
  const extended: AnySettingsSpec = { ...SETTINGS_SPEC, gpuLimitPercent };

  it('shows up in the defaults, the validation, the schema, the form and the config reader', () => {
    expect(defaultsOf(extended)).toMatchObject({ gpuLimitPercent: 0 });
    expect(patchProblems(extended, { gpuLimitPercent: 101 })).toEqual([
      { field: 'gpuLimitPercent', message: 'GPU limit must be between 0 and 100' },
    ]);
    expect(patchProblems(extended, { gpuLimitPercent: 100 })).toEqual([]);
    expect(settingsSchemaOf(extended).gpuLimitPercent).toEqual({
      type: 'integer',
      minimum: 0,
      maximum: 100,
      default: 0,
    });
    const computing = settingsGroupsOf(extended).find((group) => group.title === 'Computing');
    expect(computing?.fields.at(-1)).toEqual({
      key: 'gpuLimitPercent',
      label: 'GPU limit',
      kind: 'number',
      unit: '% of the GPU',
    });
    expect(keysWhere(extended, (entry) => entry.headless === 'config-file')).toContain(
      'gpuLimitPercent',
    );
    expect(settingVariable('gpuLimitPercent', extended)).toBe('AGENT_GPU_LIMIT_PERCENT');
    const read = (value: string) =>
      readConfigSettings(ConfigValues.from({ env: { AGENT_GPU_LIMIT_PERCENT: value } }), () => '', {
        gpuLimitPercent,
      });
    expect(read('40')).toEqual({ gpuLimitPercent: 40 });
    expect(() => read('400')).toThrow(/^AGENT_GPU_LIMIT_PERCENT must be between 0 and 100/);
    // The real spec is left alone.
    expect(validateSettingsPatch({ gpuLimitPercent: 1 })).toEqual([
      { field: 'gpuLimitPercent', message: "unknown setting 'gpuLimitPercent'" },
    ]);
  });
});

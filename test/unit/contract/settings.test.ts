import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  applySettingsPatch,
  DEFAULT_SETTINGS,
  publicSettings,
  SECRET_FIELDS,
  validateSettingsPatch,
} from '@copilot/contract/settings';

const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC_KEY_PEM = publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('settings rules', () => {
  it('accepts the defaults and ordinary values', () => {
    expect(validateSettingsPatch({ ...DEFAULT_SETTINGS })).toEqual([]);
    expect(
      validateSettingsPatch({
        jobManagerAddress: 'jm@xmpp.example.org storage@xmpp.example.org,jm2@example.org',
        xmppServer: 'xmpp.example.org:5222',
        xmppDomain: 'example.org',
        xmppUsername: 'volunteer42',
        cpuLimitPercent: 100,
        jobSlots: 4,
        allowJobNetwork: true,
      }),
    ).toEqual([]);
    expect(DEFAULT_SETTINGS.allowJobNetwork).toBe(false);
  });

  it('names the field and the rule for each bad value', () => {
    expect(
      validateSettingsPatch({
        cpuLimitPercent: 0,
        idleMinutes: 2.5,
        memoryLimitMb: '512',
        jobManagerAddress: 'not a jid',
        xmppServer: 'host:port:again',
        xmppUsername: 'a@b',
        runOnlyWhenIdle: 'yes',
        launchMissiles: true,
      }),
    ).toEqual([
      { field: 'cpuLimitPercent', message: 'CPU limit must be between 1 and 100' },
      { field: 'idleMinutes', message: 'Idle minutes must be a whole number' },
      { field: 'memoryLimitMb', message: 'Memory cap must be a number' },
      {
        field: 'jobManagerAddress',
        message: 'must be a Jabber ID such as jm@xmpp.example.org (several: separated by spaces)',
      },
      { field: 'xmppServer', message: 'must be a host name, optionally with :port' },
      { field: 'xmppUsername', message: 'must not contain @, / or spaces' },
      { field: 'runOnlyWhenIdle', message: 'runOnlyWhenIdle must be true or false' },
      { field: 'launchMissiles', message: "unknown setting 'launchMissiles'" },
    ]);
  });

  it('refuses names inherited from Object.prototype', () => {
    const patch = JSON.parse('{"constructor":"x","toString":"y","__proto__":"z"}') as Record<
      string,
      unknown
    >;
    expect(validateSettingsPatch(patch).map((error) => error.message)).toEqual([
      "unknown setting 'constructor'",
      "unknown setting 'toString'",
      "unknown setting '__proto__'",
    ]);
    const applied = applySettingsPatch(DEFAULT_SETTINGS, patch);
    expect(applied.settings).toBe(DEFAULT_SETTINGS);
  });

  it('checks that keys and certificates are PEM', () => {
    expect(validateSettingsPatch({ jobManagerPublicKey: PUBLIC_KEY_PEM })).toEqual([]);
    expect(validateSettingsPatch({ jobManagerPublicKey: 'ssh-rsa AAAA…' })).toEqual([
      {
        field: 'jobManagerPublicKey',
        message: 'must be a PEM public key (-----BEGIN PUBLIC KEY-----)',
      },
    ]);
    expect(validateSettingsPatch({ xmppCaCertificate: PUBLIC_KEY_PEM })).toEqual([
      {
        field: 'xmppCaCertificate',
        message: 'must be PEM certificates (-----BEGIN CERTIFICATE-----)',
      },
    ]);
  });

  it('refuses secure mode without the job manager key, and keeps the old settings', () => {
    const refused = applySettingsPatch(DEFAULT_SETTINGS, { secureMode: true });
    expect(refused.errors).toEqual([
      { field: 'jobManagerPublicKey', message: "secure mode needs the job manager's public key" },
    ]);
    expect(refused.settings).toBe(DEFAULT_SETTINGS);
    const accepted = applySettingsPatch(DEFAULT_SETTINGS, {
      secureMode: true,
      jobManagerPublicKey: `\n${PUBLIC_KEY_PEM}\n`,
    });
    expect(accepted.errors).toEqual([]);
    expect(accepted.settings.jobManagerPublicKey).toBe(PUBLIC_KEY_PEM.trim());
  });
});

describe('secrets are write-only', () => {
  const withPassword = { ...DEFAULT_SETTINGS, xmppUsername: 'bob', xmppPassword: ' s3cret pw ' };

  it('publicSettings blanks the password and says whether one is set', () => {
    const shown = publicSettings(withPassword);
    expect(shown).toEqual({ ...withPassword, xmppPassword: '', xmppPasswordSet: true });
    expect(JSON.stringify(shown)).not.toContain('s3cret');
    expect(publicSettings(DEFAULT_SETTINGS)).toMatchObject({
      xmppPassword: '',
      xmppPasswordSet: false,
    });
    for (const field of SECRET_FIELDS) expect(shown[field]).toBe('');
  });

  it('an empty password in a patch keeps the current one; a new one replaces it untrimmed', () => {
    const kept = applySettingsPatch(withPassword, { xmppPassword: '', cpuLimitPercent: 20 });
    expect(kept.errors).toEqual([]);
    expect(kept.settings).toEqual({ ...withPassword, cpuLimitPercent: 20 });
    // A form that sends back what getSettings returned changes nothing.
    const echoed = applySettingsPatch(withPassword, { ...publicSettings(withPassword) });
    expect(echoed.errors).toEqual([
      { field: 'xmppPasswordSet', message: "unknown setting 'xmppPasswordSet'" },
    ]);
    const { xmppPasswordSet: _set, ...form } = publicSettings(withPassword);
    expect(applySettingsPatch(withPassword, form).settings).toEqual(withPassword);
    const changed = applySettingsPatch(withPassword, { xmppPassword: '  new pass ' });
    expect(changed.settings.xmppPassword).toBe('  new pass ');
    expect(
      applySettingsPatch(withPassword, { xmppPassword: 42 as unknown as string }).errors,
    ).toEqual([{ field: 'xmppPassword', message: 'xmppPassword must be text' }]);
  });
});

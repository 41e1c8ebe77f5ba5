import { describe, expect, it } from 'vitest';
import { ConfigError, ConfigValues, parseConfigArgs, parseConfigText } from '@copilot/protocol';

describe('config file', () => {
  it('parses VARIABLE VALUE lines, comments and blank lines', () => {
    const values = parseConfigText(
      [
        '# Co-Pilot job manager',
        '',
        'JM_JABBER_SERVER   xmpp.cern.ch',
        '  JM_JABBER_ID\tjm ',
        'JM_JOB_REQUIRE_FILE /cvmfs/some dir/file',
        'JM_EMPTY',
      ].join('\n'),
    );
    expect([...values]).toEqual([
      ['JM_JABBER_SERVER', 'xmpp.cern.ch'],
      ['JM_JABBER_ID', 'jm'],
      ['JM_JOB_REQUIRE_FILE', '/cvmfs/some dir/file'],
      ['JM_EMPTY', ''],
    ]);
  });

  it('names the line of an invalid variable', () => {
    expect(() => parseConfigText('OK 1\n9BAD x', 'jm.conf')).toThrow(/jm.conf:2/);
  });

  it('layers command line over environment over file', () => {
    const config = ConfigValues.from({
      file: new Map([
        ['A', 'file'],
        ['B', 'file'],
        ['C', 'file'],
      ]),
      env: { B: 'env', C: 'env', lower: 'ignored' },
      overrides: new Map([['C', 'cli']]),
    });
    expect([config.optional('A'), config.optional('B'), config.optional('C')]).toEqual([
      'file',
      'env',
      'cli',
    ]);
    expect(config.optional('lower')).toBeUndefined();
  });

  it('gives typed values and errors that name the variable', () => {
    const config = ConfigValues.from({
      file: new Map([
        ['PORT', '8080'],
        ['BAD_PORT', '80x'],
        ['FRACTION', '0.5'],
        ['ROLE', 'storage'],
        ['EMPTY', ''],
      ]),
    });
    expect(config.integer('PORT', 1, { min: 0, max: 65535 })).toBe(8080);
    expect(config.number('FRACTION', 1)).toBe(0.5);
    expect(config.integer('MISSING', 7)).toBe(7);
    expect(config.choice('ROLE', ['all', 'job', 'storage'] as const, 'all')).toBe('storage');
    const error = (() => {
      try {
        config.integer('BAD_PORT', 1);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe('BAD_PORT');
    expect(() => config.integer('FRACTION', 1)).toThrow(/FRACTION must be a whole number/);
    expect(() => config.integer('PORT', 1, { max: 100 })).toThrow(/PORT must be between/);
    expect(() => config.required('EMPTY')).toThrow(/EMPTY must be set/);
    expect(() => config.choice('ROLE', ['all'] as const, 'all')).toThrow(/ROLE must be one of/);
  });

  it('splits argv into overrides, --config, options and positional arguments', () => {
    const parsed = parseConfigArgs(
      [
        'list',
        '--config',
        '/etc/jm.conf',
        '--JM_JABBER_ID=jm2',
        '--role',
        'storage',
        '--wait',
        'x',
      ],
      ['wait'],
    );
    expect(parsed.configPath).toBe('/etc/jm.conf');
    expect([...parsed.overrides]).toEqual([['JM_JABBER_ID', 'jm2']]);
    expect([...parsed.options]).toEqual([
      ['role', 'storage'],
      ['wait', 'true'],
    ]);
    expect(parsed.positional).toEqual(['list', 'x']);
    expect(() => parseConfigArgs(['--role'])).toThrow(/--role needs a value/);
  });
});

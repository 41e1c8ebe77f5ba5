import { describe, expect, it } from 'vitest';
import type { HeartbeatReply } from '@copilot/heartbeat/heartbeat-room';
import {
  formatColumns,
  formatPingTable,
  formatStatusTable,
  parseStatus,
} from '@copilot/heartbeat/status-table';

const reply = (label: string, status?: string, failure?: string): HeartbeatReply => {
  const result: HeartbeatReply = {
    target: { label, address: `room@conf/${label}`, requested: '' },
  };
  if (status !== undefined) result.answer = { kind: 'status', component: 'x', status };
  if (failure !== undefined) result.failure = failure;
  return result;
};

describe('formatStatusTable', () => {
  it('prints listing 4.19 for systemLoad, column for column', () => {
    const table = formatStatusTable('systemLoad', [
      reply('alpha', '0.90 0.65 0.52'),
      reply('e48b-42d9', '1.51 1.23 1.13'),
      reply('24af-ecf4', '1.50 0.95 0.40'),
    ]);
    expect(table).toBe(
      [
        'Room nick      1min      5min      15min',
        'alpha          0.90      0.65      0.52',
        'e48b-42d9      1.51      1.23      1.13',
        '24af-ecf4      1.50      0.95      0.40',
      ].join('\n'),
    );
  });

  it('widens a column for a long cell', () => {
    expect(
      formatColumns([
        ['a', 'b', 'c'],
        ['a-very-long-nickname', 'x', 'y'],
      ]),
    ).toBe('a                     b         c\na-very-long-nickname  x         y');
  });

  it('shows a missing member and an error status in the row', () => {
    const table = formatStatusTable('systemLoad', [
      reply('alpha', '0.10 0.20 0.30'),
      reply('gone', undefined, 'timeout'),
      reply('bad', "error: unknown component 'x'"),
      reply('bounced', undefined, 'item-not-found'),
    ]);
    const lines = table.split('\n');
    expect(lines[2]).toMatch(/^gone\s+no answer$/);
    expect(lines[3]).toMatch(/^bad\s+error: unknown component 'x'$/);
    expect(lines[4]).toMatch(/^bounced\s+no answer \(item-not-found\)$/);
  });

  it('diskUsage: one row per mount with a Mount column', () => {
    const table = formatStatusTable('diskUsage', [
      reply(
        'alpha',
        '/ usedMB=100 sizeMB=1000 usedPercent=10.0; /data usedMB=5 sizeMB=10 usedPercent=50.0',
      ),
    ]);
    expect(table.split('\n')).toEqual([
      'Room nick      Mount     usedMB    sizeMB    usedPercent',
      'alpha          /         100       1000      10.0',
      'alpha          /data     5         10        50.0',
    ]);
  });

  it('memoryUsage: the fields are the columns; a table with only failures says Status', () => {
    expect(
      formatStatusTable('memoryUsage', [reply('a', 'usedMB=1 totalMB=2')]).split('\n')[0],
    ).toMatch(/^Room nick\s+usedMB\s+totalMB$/);
    expect(
      formatStatusTable('memoryUsage', [reply('a', undefined, 'timeout')]).split('\n')[0],
    ).toMatch(/^Room nick\s+Status$/);
  });

  it('ping table has the round trip time', () => {
    const ok: HeartbeatReply = { ...reply('alpha'), answer: { kind: 'pong' }, elapsedMs: 12 };
    expect(formatPingTable([ok, reply('gone', undefined, 'timeout')]).split('\n')).toEqual([
      'Room nick      Reply      Time',
      'alpha          pong       12 ms',
      'gone           no answer',
    ]);
  });
});

describe('parseStatus', () => {
  it('names the three load averages', () => {
    expect(parseStatus('systemLoad', '0.90 0.65 0.52')).toEqual([
      {
        fields: [
          ['1min', '0.90'],
          ['5min', '0.65'],
          ['15min', '0.52'],
        ],
      },
    ]);
  });

  it('reads labels and name=value fields', () => {
    expect(parseStatus('runningProcesses', 'all=3 running=1')).toEqual([
      {
        fields: [
          ['all', '3'],
          ['running', '1'],
        ],
      },
    ]);
    expect(parseStatus('diskUsage', '/ usedMB=1')).toEqual([
      { label: '/', fields: [['usedMB', '1']] },
    ]);
  });
});

describe('cells written by room members', () => {
  it('reach the terminal with control characters escaped, one row a line', () => {
    const table = formatColumns([
      ['Nick', 'Status'],
      ['evil\u001b[2J\u001b]0;pwned\u0007', 'ok\nforged-agent  idle'],
    ]);
    const controls = [...table].filter((char) => char !== '\n' && /\p{Cc}/u.test(char));
    expect(controls).toEqual([]);
    expect(table.split('\n')).toHaveLength(2);
  });
});

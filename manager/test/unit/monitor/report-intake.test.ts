import { describe, expect, it } from 'vitest';
import { EventAggregator, type MonitorReport } from '@manager/monitor/event-aggregator';
import { ReportIntake } from '@manager/monitor/report-intake';
import { SenderAllowList } from '@manager/monitor/sender-allow-list';
import { ThrottledLog } from '@copilot/base/throttled-log';
import { createLogger, type LogRecord } from '@copilot/base/logger';

const C = 'jobmanager.generic.alpha';
const JM = 'jmgeneric@xmpp.cern.ch/alpha';

function value(event: string, v: number, component = C): MonitorReport {
  return { command: 'reportEventValue', component, event, value: v };
}

function intakeWith(maxSeries = 5000) {
  const logs: LogRecord[] = [];
  let clock = 0;
  const aggregator = new EventAggregator(maxSeries);
  const intake = new ReportIntake({
    allowList: new SenderAllowList(['jmgeneric@xmpp.cern.ch', '*@agents.cern.ch']),
    aggregator,
    maxSeries,
    logger: createLogger('monitor', (record) => logs.push(record)),
    now: () => clock,
  });
  return {
    intake,
    aggregator,
    logs,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

describe('ReportIntake', () => {
  it("stores allowed senders' reports and drops everyone else's, counted by reason", () => {
    const { intake, aggregator } = intakeWith();
    expect(intake.receive(JM, value('queuedJobs', 7), 1_000)).toEqual([
      { path: `copilot.${C}.queuedJobs`, value: 7, timestamp: 1 },
    ]);
    expect(intake.receive('e48b@agents.cern.ch/x', value('load', 1, 'agent.e48b'), 0)).toHaveLength(
      1,
    );
    expect(intake.receive('outsider@xmpp.cern.ch/x', value('queuedJobs', -31337), 0)).toEqual([]);
    expect(intake.receive('jmgeneric@xmpp.cern.ch.evil/alpha', value('queuedJobs', -1), 0)).toEqual(
      [],
    );
    expect(intake.receive(JM, value('bad path', 1), 0)).toEqual([]);
    expect(intake.receive(JM, value('nan', Number.NaN), 0)).toEqual([]);
    expect(intake.dropped).toEqual({ sender: 2, path: 1, value: 1, 'series-cap': 0 });
    expect(aggregator.latestValueOf(/^queuedJobs$/)).toBe(7);
  });

  it('a *@domain sender (any volunteer on it) reports only as agent.*: no manager figures, no batches', () => {
    const { intake, aggregator } = intakeWith();
    const volunteer = 'v-abcdefgh@agents.cern.ch/desk';
    expect(intake.receive(volunteer, value('batch.b1.done', 999), 0)).toEqual([]);
    expect(intake.receive(volunteer, value('queuedJobs', -31337, 'jobmanager.x'), 0)).toEqual([]);
    expect(intake.receive(volunteer, value('load', 1, 'agent.desk'), 0)).toHaveLength(1);
    expect(intake.dropped.sender).toBe(2);
    // An account named on its own (the manager's) reports under any component.
    expect(intake.receive(JM, value('batch.b1.done', 3), 0)).toHaveLength(1);
    expect(aggregator.latestValueOf(/^batch\.b1\.done$/)).toBe(3);
  });

  it('an allowed sender cannot grow the series beyond the cap', () => {
    const { intake, aggregator } = intakeWith(10);
    for (let index = 0; index < 3000; index += 1)
      intake.receive(JM, value(`path${index}`, index), 0);
    expect(aggregator.seriesCount).toBe(10);
    expect(intake.dropped['series-cap']).toBe(2990);
    expect(intake.receive(JM, value('path0', 42), 0)).toHaveLength(1);
  });

  it('logs one line per reason and sender account a minute, with what was left out', () => {
    const { intake, logs, advance } = intakeWith(1);
    for (let index = 0; index < 3001; index += 1) {
      intake.receive(`outsider@xmpp.cern.ch/r${index}`, value(`p${index}`, index), 0);
    }
    intake.receive('other@xmpp.cern.ch/x', value('q', 1), 0);
    intake.receive(JM, value('a', 1), 0);
    intake.receive(JM, value('b', 1), 0);
    intake.receive(JM, value('c', 1), 0);
    expect(logs.map((record) => [record.level, record.message, record.fields?.from])).toEqual([
      [
        'warn',
        'report dropped: sender not allowed (MON_ALLOWED_SENDERS)',
        'outsider@xmpp.cern.ch/r0',
      ],
      ['warn', 'report dropped: sender not allowed (MON_ALLOWED_SENDERS)', 'other@xmpp.cern.ch/x'],
      [
        'warn',
        'report dropped: 1 series already held (MON_MAX_SERIES); known series still update',
        JM,
      ],
    ]);
    advance(60_000);
    intake.receive('outsider@xmpp.cern.ch/again', value('p', 1), 0);
    expect(logs.at(-1)?.fields).toMatchObject({
      from: 'outsider@xmpp.cern.ch/again',
      suppressedSinceLastLine: 3000,
    });
  });

  it('cuts and escapes the names a peer sent in its log line', () => {
    const { intake, logs } = intakeWith();
    intake.receive('outsider@x/\n', value(`a\n${'x'.repeat(500)}`, 1), 0);
    const fields = logs[0]?.fields ?? {};
    expect(String(fields.event)).toMatch(/^a\\nx+…$/);
    expect(String(fields.event).length).toBeLessThanOrEqual(90);
    expect(fields.from).toBe('outsider@x/\\n');
  });
});

describe('ThrottledLog', () => {
  it('remembers at most maxKeys keys; the rest share one line per interval', () => {
    const logs: LogRecord[] = [];
    let clock = 0;
    const log = new ThrottledLog(
      createLogger('t', (record) => logs.push(record)),
      {
        maxKeys: 3,
        intervalMs: 1_000,
        now: () => clock,
      },
    );
    for (let index = 0; index < 1000; index += 1) log.warn(`k${index}`, 'dropped', { index });
    expect(log.size).toBeLessThanOrEqual(4);
    expect(logs.map((record) => record.fields)).toEqual([
      { index: 0 },
      { index: 1 },
      { index: 2 },
      { index: 3, throttledWithOtherKeys: true },
    ]);
    clock = 1_000;
    log.warn('new', 'dropped', { index: -1 });
    expect(logs.at(-1)?.fields).toEqual({ index: -1 });
    expect(log.size).toBe(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { Command } from '@copilot/protocol';
import { createLogger, type LogRecord } from '@copilot/base/logger';
import {
  MonitorReporter,
  monitorComponent,
  noackChannel,
  type MonitorChannel,
} from '@copilot/transport';

function recorder(): MonitorChannel & { sent: Array<{ to: string; command: Command }> } {
  const sent: Array<{ to: string; command: Command }> = [];
  return { sent, notify: (to, command) => sent.push({ to, command }) };
}

describe('one MonitorReporter for the agent and the manager', () => {
  it('names each component as the report does, safe for Graphite', () => {
    expect(monitorComponent('agent', 'desk-1')).toBe('agent.desk-1');
    expect(monitorComponent('agent', 'a.b c')).toBe('agent.a_b_c');
    expect(monitorComponent('agent', '')).toBe('agent.agent');
    expect(monitorComponent('jobManager', 'jm1')).toBe('jobmanager.generic.jm1');
    expect(monitorComponent('jobManager', '')).toBe('jobmanager.generic.jobmanager');
  });

  it('sends reportEvent, reportEventDuration and reportEventValue to the monitor', () => {
    const { sent, notify } = recorder();
    const monitor = new MonitorReporter({ notify }, 'mon@localhost', 'agent.a1');
    expect(monitor.enabled).toBe(true);
    monitor.event('job.started');
    monitor.duration('job.duration', 1234.6);
    monitor.duration('clock.skew', -5);
    monitor.value('system.load.1min', 0.5);
    monitor.value('system.load.5min', Number.NaN);
    expect(sent).toEqual([
      {
        to: 'mon@localhost',
        command: { command: 'reportEvent', component: 'agent.a1', event: 'job.started' },
      },
      {
        to: 'mon@localhost',
        command: {
          command: 'reportEventDuration',
          component: 'agent.a1',
          event: 'job.duration',
          duration: 1235,
        },
      },
      {
        to: 'mon@localhost',
        command: {
          command: 'reportEventDuration',
          component: 'agent.a1',
          event: 'clock.skew',
          duration: 0,
        },
      },
      {
        to: 'mon@localhost',
        command: {
          command: 'reportEventValue',
          component: 'agent.a1',
          event: 'system.load.1min',
          value: 0.5,
        },
      },
    ]);
  });

  it('does nothing without a monitor address', () => {
    for (const address of [undefined, '']) {
      const { sent, notify } = recorder();
      const monitor = new MonitorReporter({ notify }, address, 'agent.a1');
      expect(monitor.enabled).toBe(false);
      monitor.event('job.started');
      monitor.value('system.load.1min', 1);
      expect(sent).toEqual([]);
    }
  });

  it('over a session: noack, and a failed send is logged, not thrown', async () => {
    const calls: Array<{ to: string; noack: boolean | undefined }> = [];
    const logs: LogRecord[] = [];
    const channel = noackChannel(
      {
        send: (to, _command, options) => {
          calls.push({ to, noack: options?.noack });
          return Promise.reject(new Error('offline'));
        },
      },
      createLogger('jm', (record) => logs.push(record)),
    );
    new MonitorReporter(channel, 'mon@localhost', monitorComponent('jobManager', 'jm1')).event(
      'job.succeeded',
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([{ to: 'mon@localhost', noack: true }]);
    expect(logs.map((record) => [record.message, record.fields?.error])).toEqual([
      ['monitor event not sent', 'offline'],
    ]);
  });
});

import { describe, expect, it } from 'vitest';
import { AgentMonitor, monitorAddresses, reportSystemLoad } from '@copilot/core/agent-monitor';
import type { Command } from '@copilot/protocol/commands';

function sink(): {
  sent: Array<{ to: string; command: Command }>;
  notify(to: string, command: Command): void;
} {
  const sent: Array<{ to: string; command: Command }> = [];
  return { sent, notify: (to, command) => sent.push({ to, command }) };
}

describe('monitorAddresses', () => {
  it('is the setting when set, else the headless option; a list gives each', () => {
    expect(monitorAddresses('mon@a', 'old@b')).toEqual(['mon@a']);
    expect(monitorAddresses('', 'old@b')).toEqual(['old@b']);
    expect(monitorAddresses('', undefined)).toEqual([]);
    expect(monitorAddresses('mon@a, mon2@a', undefined)).toEqual(['mon@a', 'mon2@a']);
  });
});

describe('AgentMonitor', () => {
  it('reads the address at each report: off, then on, then to two monitors', () => {
    const channel = sink();
    let setting = '';
    const monitor = new AgentMonitor(
      channel,
      () => monitorAddresses(setting, undefined),
      'agent.a1',
    );
    expect(monitor.enabled).toBe(false);
    monitor.event('job.started');
    reportSystemLoad(monitor, [1, 2, 3]);
    expect(channel.sent).toEqual([]);
    setting = 'mon@localhost';
    expect(monitor.enabled).toBe(true);
    monitor.event('job.started');
    monitor.duration('job.duration', 1234.4);
    monitor.value('system.load.1min', Number.NaN);
    expect(channel.sent).toEqual([
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
          duration: 1234,
        },
      },
    ]);
    setting = 'mon@localhost mon2@localhost';
    channel.sent.length = 0;
    reportSystemLoad(monitor, [0.5, 0.25, 0.125]);
    expect(
      channel.sent.map((entry) => [entry.to, 'event' in entry.command && entry.command.event]),
    ).toEqual([
      ['mon@localhost', 'system.load.1min'],
      ['mon2@localhost', 'system.load.1min'],
      ['mon@localhost', 'system.load.5min'],
      ['mon2@localhost', 'system.load.5min'],
      ['mon@localhost', 'system.load.15min'],
      ['mon2@localhost', 'system.load.15min'],
    ]);
    expect(channel.sent[0]?.command).toMatchObject({ command: 'reportEventValue', value: 0.5 });
  });
});

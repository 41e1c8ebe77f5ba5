import { describe, expect, it } from 'vitest';
import type { Command, CommandMessage } from '@copilot/protocol';
import { answerHeartbeatRequests } from '@copilot/heartbeat/heartbeat-responder';
import type { StatusProbes } from '@copilot/heartbeat/status-probes';
import type { CopilotSession } from '@copilot/transport';

describe('answerHeartbeatRequests', () => {
  it('answers questions that arrive during one reading with that reading', async () => {
    let handler: ((message: CommandMessage) => Promise<void> | void) | undefined;
    const sent: { to: string; command: Command }[] = [];
    const session = {
      onCommand(added: (message: CommandMessage) => Promise<void> | void) {
        handler = added;
        return () => undefined;
      },
      send(to: string, command: Command) {
        sent.push({ to, command });
        return Promise.resolve('id');
      },
    } as unknown as CopilotSession;
    let reads = 0;
    const probe = async (): Promise<string> => {
      reads += 1;
      await new Promise((resolve) => setTimeout(resolve, 10));
      return `reading ${reads}`;
    };
    const probes: StatusProbes = {
      systemLoad: probe,
      diskUsage: probe,
      memoryUsage: probe,
      runningProcesses: probe,
    };
    answerHeartbeatRequests(session, { probes });
    const ask = (from: string) =>
      handler?.({
        kind: 'command',
        from,
        to: 'agent@x/a',
        id: '',
        noack: true,
        command: { command: 'Heartbeat:getStatus', component: 'diskUsage' },
      });
    await Promise.all(['a@x/1', 'b@x/2', 'c@x/3'].map(ask));
    expect(reads).toBe(1);
    expect(sent.map((message) => message.to)).toEqual(['a@x/1', 'b@x/2', 'c@x/3']);
    for (const message of sent) {
      expect(message.command).toEqual({
        command: 'haveStatus',
        component: 'diskUsage',
        status: 'reading 1',
      });
    }
    await ask('d@x/4');
    expect(reads).toBe(2);
  });
});

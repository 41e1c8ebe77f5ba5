/** Answers the Heartbeat service (2.2.6): Heartbeat:ping → pong, Heartbeat:getStatus → haveStatus. */
import fs from 'node:fs';
import os from 'node:os';
import type { Command } from '../protocol/commands';
import type { ProtocolChannel } from './manager-exchange';

export function componentStatus(component: string, workDir: string): string {
  switch (component) {
    case 'systemLoad':
      return os
        .loadavg()
        .map((value) => value.toFixed(2))
        .join(' ');
    case 'diskUsage': {
      try {
        const stat = fs.statfsSync(workDir);
        const total = stat.blocks * stat.bsize;
        const free = stat.bavail * stat.bsize;
        return `${Math.round((total - free) / 1048576)}MB used, ${Math.round(free / 1048576)}MB free`;
      } catch (error) {
        return `unknown (${error instanceof Error ? error.message : String(error)})`;
      }
    }
    case 'memoryUsage':
      return `${Math.round((os.totalmem() - os.freemem()) / 1048576)}MB used, ${Math.round(os.freemem() / 1048576)}MB free`;
    case 'runningProcesses':
      return 'unknown';
    default:
      return `unknown component ${component}`;
  }
}

export function answerHeartbeat(
  channel: ProtocolChannel,
  from: string,
  command: Command,
  workDir: string,
): boolean {
  if (command.command === 'Heartbeat:ping') {
    channel.notify(from, { command: 'pong' });
    return true;
  }
  if (command.command === 'Heartbeat:getStatus') {
    channel.notify(from, {
      command: 'haveStatus',
      component: command.component,
      status: componentStatus(command.component, workDir),
    });
    return true;
  }
  return false;
}

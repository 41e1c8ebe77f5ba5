import type { HeartbeatRoom } from '@copilot/heartbeat/heartbeat-room';
import { HEARTBEAT_CLIENT_STATUS } from '@copilot/heartbeat/heartbeat-room';
import { parseStatus } from '@copilot/heartbeat/status-table';
import { resolveTargets } from '@copilot/heartbeat/target-resolution';
import type { DashboardHistory } from './dashboard-state';

/** Parses systemLoad's `0.90 0.65 0.52`; undefined for anything else. */
export function parseLoad(status: string): [number, number, number] | undefined {
  const entry = parseStatus('systemLoad', status)[0];
  const numbers = entry?.fields.map(([, value]) => Number(value)) ?? [];
  const [one, five, fifteen] = numbers;
  if (one === undefined || five === undefined || fifteen === undefined) return undefined;
  if (![one, five, fifteen].every(Number.isFinite)) return undefined;
  return [one, five, fifteen];
}

/** Asks every room member (but command-line clients) for its systemLoad, once. */
export async function pollAgentLoads(
  room: HeartbeatRoom,
  history: DashboardHistory,
  timeoutMs: number,
): Promise<void> {
  if (!room.isJoined) return;
  // A large room tells nobody of joins and leaves: ask it who is in (see room-occupants.ts).
  await room.refreshMembers();
  const { targets } = resolveTargets({
    requested: [],
    roomJid: room.roomJid,
    members: room.roster.members(),
    selfNick: room.nick,
    skipStatus: HEARTBEAT_CLIENT_STATUS,
  });
  const replies = await room.ask({ kind: 'status', component: 'systemLoad' }, targets, timeoutMs);
  const answers = new Map<string, [number, number, number]>();
  for (const reply of replies) {
    if (reply.answer?.kind !== 'status') continue;
    const load = parseLoad(reply.answer.status);
    if (load) answers.set(reply.target.label, load);
  }
  history.recordPoll(
    targets.map((target) => target.label),
    answers,
    Date.now(),
  );
}

import { escapeLogText } from '../base/logger';
import type { HeartbeatReply } from './heartbeat-room';

/** One parsed status string: an optional leading label (e.g. a mount point) and fields. */
export interface StatusEntry {
  label?: string;
  fields: [name: string, value: string][];
}

/**
 * Parses a haveStatus string: `; `-separated entries, each of space-separated `name=value`
 * fields, optionally led by a plain label (`/ usedMB=1 sizeMB=2`). systemLoad's plain
 * `0.90 0.65 0.52` becomes the fields 1min, 5min and 15min.
 */
export function parseStatus(component: string, status: string): StatusEntry[] {
  if (component === 'systemLoad') {
    const numbers = status.trim().split(/\s+/);
    return [
      { fields: ['1min', '5min', '15min'].map((name, index) => [name, numbers[index] ?? '?']) },
    ];
  }
  return status
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const entry: StatusEntry = { fields: [] };
      for (const token of part.split(/\s+/)) {
        const equals = token.indexOf('=');
        if (equals > 0) entry.fields.push([token.slice(0, equals), token.slice(equals + 1)]);
        else if (entry.label === undefined && entry.fields.length === 0) entry.label = token;
        else entry.fields.push([`field${entry.fields.length + 1}`, token]);
      }
      return entry;
    });
}

const LABEL_HEADERS: Readonly<Record<string, string>> = { diskUsage: 'Mount' };

/**
 * Left-aligned columns two spaces apart, as in listing 4.19: the first column (the nickname) at
 * least 13 characters wide, the others at least `minWidth`.
 */
export function formatColumns(
  rawRows: readonly (readonly string[])[],
  minWidth = 8,
  firstMinWidth = 13,
): string {
  // Room members write these cells: no escape sequence of theirs reaches the admin's terminal.
  const rows = rawRows.map((row) => row.map((cell) => escapeLogText(cell, 200)));
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(
        widths[index] ?? (index === 0 ? firstMinWidth : minWidth),
        cell.length,
      );
    });
  }
  return rows
    .map((row) =>
      row
        .map((cell, index) =>
          index === row.length - 1 ? cell : cell.padEnd((widths[index] ?? 0) + 2),
        )
        .join('')
        .trimEnd(),
    )
    .join('\n');
}

function errorText(reply: HeartbeatReply): string {
  return reply.failure === 'timeout' ? 'no answer' : `no answer (${reply.failure ?? 'unknown'})`;
}

/**
 * The copilot-heartbeat table for a status component: `Room nick  1min  5min  15min` for
 * systemLoad (listing 4.19), one row per mount for diskUsage, the status fields as columns for
 * the others; members that did not answer get a `no answer` row, errors their text.
 */
export function formatStatusTable(component: string, replies: readonly HeartbeatReply[]): string {
  const header = ['Room nick'];
  const labelHeader = LABEL_HEADERS[component];
  if (labelHeader) header.push(labelHeader);
  let fieldNames: string[] | undefined;
  const body: string[][] = [];
  for (const reply of replies) {
    const nick = reply.target.label;
    const answer = reply.answer;
    if (!answer || answer.kind !== 'status') {
      body.push([nick, errorText(reply)]);
      continue;
    }
    if (answer.status.startsWith('error:')) {
      body.push([nick, answer.status]);
      continue;
    }
    for (const entry of parseStatus(component, answer.status)) {
      fieldNames ??= entry.fields.map(([name]) => name);
      const row = [nick];
      if (labelHeader) row.push(entry.label ?? '');
      const values = new Map(entry.fields);
      for (const name of fieldNames) row.push(values.get(name) ?? '');
      body.push(row);
    }
  }
  return formatColumns([[...header, ...(fieldNames ?? ['Status'])], ...body]);
}

/** `ping`: one row per target with the round trip time. */
export function formatPingTable(replies: readonly HeartbeatReply[]): string {
  const rows = replies.map((reply) =>
    reply.answer
      ? [reply.target.label, 'pong', `${reply.elapsedMs ?? 0} ms`]
      : [reply.target.label, errorText(reply), ''],
  );
  return formatColumns([['Room nick', 'Reply', 'Time'], ...rows]);
}

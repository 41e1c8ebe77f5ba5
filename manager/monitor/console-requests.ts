/**
 * The dashboard's action requests, checked before anything is sent: `POST /api/console/ask`
 * `{ "target": "all" | "<nick>", "component": "all" | "<component>" }` and
 * `POST /api/console/order` `{ "target": "all" | "<nick>", "order": "drain" | "pause" | "resume",
 * "reason"?: "…" }`. A target may also be `{ "nick": "<nick>" }`, which is always that one member
 * (the dashboard's row buttons send it: a room member may take the nickname "all"). Anything else
 * is a 400 and sends nothing.
 */
import { ADMIN_ORDERS, type AdminOrderName } from '@copilot/protocol';
import {
  FLEET_COMPONENTS,
  isFleetComponent,
  type FleetComponent,
} from '@copilot/heartbeat/fleet-view';
import type { FleetTarget } from '@copilot/heartbeat/fleet-console';

/** Largest request body read. */
export const MAX_ACTION_BODY_BYTES = 4096;
/** Longest order reason (it is shown to the volunteer). */
export const MAX_REASON_CHARS = 200;

export type ConsoleAction =
  | { kind: 'ask'; target: FleetTarget; components: FleetComponent[] }
  | { kind: 'order'; target: FleetTarget; order: AdminOrderName; reason?: string };

export class ActionRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionRequestError';
  }
}

function record(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new ActionRequestError('the body must be a JSON object');
  return body as Record<string, unknown>;
}

/** Nicknames are what the room shows; any printable text up to MUC's usual length. */
function nickOf(value: unknown): { nick: string } {
  if (
    typeof value === 'string' &&
    value.length > 0 &&
    value.length <= 256 &&
    !/[\p{Cc}]/u.test(value)
  )
    return { nick: value };
  throw new ActionRequestError('target must be "all", a room nickname or { "nick": … }');
}

function targetOf(value: unknown): FleetTarget {
  if (value === 'all') return 'all';
  // `{ "nick": … }` names one member whatever its nickname: a member may call itself "all".
  if (typeof value === 'object' && value !== null && !Array.isArray(value))
    return nickOf((value as Record<string, unknown>).nick);
  return nickOf(value);
}

function isAdminOrder(value: unknown): value is AdminOrderName {
  return typeof value === 'string' && (ADMIN_ORDERS as readonly string[]).includes(value);
}

/** Parses and checks one action body for `path`; throws ActionRequestError. */
export function parseConsoleAction(path: string, text: string): ConsoleAction {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ActionRequestError('the body is not JSON');
  }
  const body = record(parsed);
  const target = targetOf(body.target);
  if (path === '/api/console/ask') {
    const component = body.component ?? 'all';
    if (component === 'all') return { kind: 'ask', target, components: [...FLEET_COMPONENTS] };
    if (typeof component === 'string' && isFleetComponent(component))
      return { kind: 'ask', target, components: [component] };
    throw new ActionRequestError(
      `component must be "all" or one of ${FLEET_COMPONENTS.join(', ')}`,
    );
  }
  if (path === '/api/console/order') {
    if (!isAdminOrder(body.order))
      throw new ActionRequestError(`order must be one of ${ADMIN_ORDERS.join(', ')}`);
    const reason = body.reason;
    if (reason === undefined || reason === '') return { kind: 'order', target, order: body.order };
    if (typeof reason !== 'string' || reason.length > MAX_REASON_CHARS || /[\p{Cc}]/u.test(reason))
      throw new ActionRequestError(
        `reason must be text of at most ${MAX_REASON_CHARS} characters without control characters`,
      );
    return { kind: 'order', target, order: body.order, reason };
  }
  throw new ActionRequestError('unknown action');
}

import { describe, expect, it } from 'vitest';
import { FLEET_COMPONENTS } from '@copilot/heartbeat/fleet-view';
import {
  ActionRequestError,
  MAX_REASON_CHARS,
  parseConsoleAction,
} from '@manager/monitor/console-requests';

const ASK = '/api/console/ask';
const ORDER = '/api/console/order';

describe('parseConsoleAction', () => {
  it('ask: all components by default, or one', () => {
    expect(parseConsoleAction(ASK, '{"target":"all"}')).toEqual({
      kind: 'ask',
      target: 'all',
      components: [...FLEET_COMPONENTS],
    });
    expect(parseConsoleAction(ASK, '{"target":"e48b-42d9","component":"agentState"}')).toEqual({
      kind: 'ask',
      target: { nick: 'e48b-42d9' },
      components: ['agentState'],
    });
  });

  it('order: drain, pause or resume, with an optional reason', () => {
    expect(parseConsoleAction(ORDER, '{"target":"all","order":"drain"}')).toEqual({
      kind: 'order',
      target: 'all',
      order: 'drain',
    });
    expect(
      parseConsoleAction(ORDER, '{"target":"agent-1","order":"pause","reason":"kernel update"}'),
    ).toEqual({
      kind: 'order',
      target: { nick: 'agent-1' },
      order: 'pause',
      reason: 'kernel update',
    });
  });

  it('a member named "all" is addressed alone as { nick }; the string "all" is the fleet', () => {
    expect(parseConsoleAction(ORDER, '{"target":{"nick":"all"},"order":"drain"}')).toEqual({
      kind: 'order',
      target: { nick: 'all' },
      order: 'drain',
    });
    expect(parseConsoleAction(ASK, '{"target":{"nick":"agent-1"}}')).toMatchObject({
      target: { nick: 'agent-1' },
    });
    expect(() => parseConsoleAction(ORDER, '{"target":{"nick":""},"order":"drain"}')).toThrow(
      ActionRequestError,
    );
  });

  it.each([
    [ORDER, 'not json'],
    [ORDER, '[]'],
    [ORDER, '{"order":"drain"}'],
    [ORDER, '{"target":"all","order":"shutdown"}'],
    [ORDER, '{"target":"all","order":"drain","reason":42}'],
    [ORDER, `{"target":"all","order":"drain","reason":"${'x'.repeat(MAX_REASON_CHARS + 1)}"}`],
    [ORDER, '{"target":"all","order":"drain","reason":"a\\u001b[31mb"}'],
    [ORDER, '{"target":"a\\nb","order":"drain"}'],
    [ORDER, `{"target":"${'n'.repeat(300)}","order":"drain"}`],
    [ASK, '{"target":"all","component":"cpuTemperature"}'],
    ['/api/console/other', '{"target":"all"}'],
  ])('%s %s is refused', (path, body) => {
    expect(() => parseConsoleAction(path, body)).toThrow(ActionRequestError);
  });
});

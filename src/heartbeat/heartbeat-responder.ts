import type { Element } from '@xmpp/xml';
import type { Command, CommandMessage } from '../protocol';
import { silentLogger, type Logger } from '../base/logger';
import type { CopilotSession } from '../transport';
import { MucRoster } from './muc-roster';
import { roomNickFor, shortUniqueNick } from './room-nick';
import { hostStatusProbes, readStatus, type StatusProbes } from './status-probes';
import { errorMessage } from '../base/errors';

export interface HeartbeatResponderOptions {
  /** HB_CHAT_SERVER, e.g. `conference.xmpp.cern.ch`. */
  chatServer: string;
  /** HB_CHAT_ROOM, e.g. `pilots-lounge`. */
  chatRoom: string;
  /** Room nickname; default the session's XMPP resource, or a short unique id. */
  nick?: string;
  probes?: StatusProbes;
  logger?: Logger;
}

export interface HeartbeatResponder {
  readonly roomJid: string;
  /** The nickname in use; '' until the session has been online once. */
  readonly nick: string;
  readonly roster: MucRoster;
  /** Leaves the room and stops answering. */
  detach(): void;
}

/**
 * Makes a component introspectable (section 2.2.6): joins the Heartbeat MUC room and answers
 * `Heartbeat:getStatus` with `haveStatus` and `Heartbeat:ping` with `pong`, to whoever asked
 * (for a question sent through the room, the asker's room JID, as a type='chat' private message,
 * the only kind Prosody's MUC relays between occupants). Replies are sent noack: a lost answer
 * is simply asked for again, and the asker may have left the room already.
 */
export function attachHeartbeatResponder(
  session: CopilotSession,
  options: HeartbeatResponderOptions,
): HeartbeatResponder {
  const roomJid = `${options.chatRoom}@${options.chatServer}`;
  const logger = options.logger ?? silentLogger;
  const probes = options.probes ?? hostStatusProbes;
  const roster = new MucRoster(roomJid);
  let nick = '';
  let attached = true;
  let conflicts = 0;

  const join = (chosen: string): void => {
    nick = chosen;
    session.joinRoom(roomJid, nick);
    logger.info('joined the Heartbeat room', { room: roomJid, nick });
  };

  const onOnline = (jid: string): void => {
    if (attached && nick === '') join(options.nick ?? roomNickFor(jid));
  };

  const onPresence = (stanza: Element): void => {
    const outcome = roster.apply(stanza);
    if (outcome.kind === 'error' && outcome.nick === nick && outcome.condition === 'conflict') {
      // Someone else has our nickname (e.g. two agents with the same resource): pick another.
      conflicts += 1;
      session.leaveRoom(roomJid);
      if (conflicts <= 3) join(`${nick.slice(0, 16)}-${shortUniqueNick().slice(0, 4)}`);
      else logger.error('cannot join the Heartbeat room: nickname conflicts', { room: roomJid });
    }
  };

  const answering = answerHeartbeatRequests(session, { probes, logger });
  session.events.on('online', onOnline);
  session.events.on('presence', onPresence);
  if (session.isOnline) onOnline(session.jid);

  return {
    roomJid,
    get nick() {
      return nick;
    },
    roster,
    detach() {
      if (!attached) return;
      attached = false;
      answering.stop();
      session.events.off('online', onOnline);
      session.events.off('presence', onPresence);
      session.leaveRoom(roomJid);
    },
  };
}

export interface HeartbeatAnswering {
  stop(): void;
}

/**
 * Answers `Heartbeat:getStatus` and `Heartbeat:ping` on a session without joining a room, for a
 * component that is in the room already under its own presence (the Monitor).
 */
export function answerHeartbeatRequests(
  session: CopilotSession,
  options: { probes?: StatusProbes; logger?: Logger } = {},
): HeartbeatAnswering {
  const probes = options.probes ?? hostStatusProbes;
  const logger = options.logger ?? silentLogger;
  const reply = (message: CommandMessage, command: Command): void => {
    const type = message.type === 'chat' || message.type === 'groupchat' ? 'chat' : undefined;
    session.send(message.from, command, { noack: true, type }).catch((error: unknown) => {
      logger.warn('heartbeat reply failed', {
        to: message.from,
        error: errorMessage(error),
      });
    });
  };
  // Anyone in the room may ask, as often as they like, and some probes start a process (df):
  // questions that arrive while a component is being read share that one reading.
  const reading = new Map<string, Promise<string>>();
  const readShared = (component: string): Promise<string> => {
    let status = reading.get(component);
    if (!status) {
      status = readStatus(component, probes).finally(() => reading.delete(component));
      reading.set(component, status);
    }
    return status;
  };
  const stop = session.onCommand(async (message) => {
    const command = message.command;
    if (command.command === 'Heartbeat:ping') {
      reply(message, { command: 'pong' });
    } else if (command.command === 'Heartbeat:getStatus') {
      const status = await readShared(command.component);
      reply(message, { command: 'haveStatus', component: command.component, status });
    }
  });
  return { stop };
}

/**
 * An account invite made over XMPP, so a project admin needs no shell on the XMPP server host:
 * Prosody 0.12's mod_invites_adhoc offers server admins the ad-hoc command (XEP-0050)
 * "Create new account invite", node `urn:xmpp:invite#create-account`, on the host's JID. It is
 * one stage: `execute` answers `status='completed'` with a data form (XEP-0004) whose fields
 * are `landing-url` (the invite web page, when mod_invites_page is loaded), `uri` (XEP-0401's
 * `xmpp:DOMAIN?register;preauth=TOKEN`) and `expire`. Someone who is not an admin gets an IQ
 * error `forbidden` (mod_adhoc.lua), and a command that failed inside may answer `completed`
 * with a `<note type='error'>` instead of the form.
 */
import crypto from 'node:crypto';
import { xml, type Element } from '@xmpp/xml';
import { CopilotError, errorMessage } from '../base/errors';
import { escapeLogText } from '../base/logger';
import { CopilotSession } from './copilot-session';
import type { SessionTlsOptions } from './tls-options';

export const NS_COMMANDS = 'http://jabber.org/protocol/commands';
export const NS_DATA_FORMS = 'jabber:x:data';
/** mod_invites_adhoc's admin command that makes a one-use account invite. */
export const CREATE_ACCOUNT_INVITE_NODE = 'urn:xmpp:invite#create-account';

const TOKEN = /^[A-Za-z0-9_.~-]{8,128}$/;
const MAX_TEXT = 200;

export class InviteError extends CopilotError {
  constructor(message: string) {
    super('CONFIG_INVALID', `account invite over XMPP: ${message}`);
    this.name = 'InviteError';
  }
}

/** What the command's result form said. */
export interface AccountInvite {
  token: string;
  /** `xmpp:DOMAIN?register;preauth=TOKEN` */
  uri: string;
  landingUrl?: string;
  /** XEP-0082 date-time, as the server wrote it. */
  expires?: string;
}

function fieldValue(form: Element, name: string): string | undefined {
  const field = form
    .getChildren('field')
    .find((candidate) => candidate.attrs.var === name || candidate.attrs.name === name);
  const value = field?.getChildText('value');
  return value === null || value === undefined ? undefined : value.trim();
}

/** The token in an XEP-0401 URI (`…?register;preauth=TOKEN[;…]`). */
export function preauthTokenOf(uri: string): string | undefined {
  const token = /[?;]preauth=([^;&#\s]+)/.exec(uri)?.[1];
  return token !== undefined && TOKEN.test(token) ? token : undefined;
}

/** Reads the invite out of the command's answer (the `<command/>` element of the IQ result). */
export function inviteFromCommandResult(command: Element | undefined): AccountInvite {
  if (!command || command.name !== 'command' || command.attrs.xmlns !== NS_COMMANDS) {
    throw new InviteError('the server answered without an ad-hoc command result');
  }
  const note = command.getChild('note');
  if (note && note.attrs.type === 'error') {
    throw new InviteError(`the server said: ${escapeLogText(note.text().slice(0, MAX_TEXT))}`);
  }
  if (command.attrs.status !== 'completed') {
    throw new InviteError(
      `the command did not complete (status ${escapeLogText(String(command.attrs.status).slice(0, 40))})`,
    );
  }
  // Prosody 0.12 sends the completed command's values as type='form' (adhoc.lib.lua adds a
  // handler's `form` with layout:form(values); only `result` gets type='result'): both are read.
  const form = command.getChild('x', NS_DATA_FORMS);
  if (!form || (form.attrs.type !== 'result' && form.attrs.type !== 'form')) {
    throw new InviteError('the answer has no data form');
  }
  const uri = fieldValue(form, 'uri');
  const token = uri === undefined ? undefined : preauthTokenOf(uri);
  if (uri === undefined || token === undefined) {
    throw new InviteError('the result form has no invite URI with a preauth token');
  }
  const landingUrl = fieldValue(form, 'landing-url');
  const expires = fieldValue(form, 'expire');
  return {
    token,
    uri,
    ...(landingUrl ? { landingUrl } : {}),
    ...(expires ? { expires } : {}),
  };
}

export interface InviteOverXmppOptions {
  /** e.g. `xmpp://host:5222` (xmppServiceUrl). */
  service: string;
  domain: string;
  /** An account of `domain` that is a server admin (Prosody's `admins`). */
  username: string;
  password: string;
  tls?: SessionTlsOptions;
  timeoutMs?: number;
}

/**
 * Logs in as a server admin, executes "Create new account invite" on the domain and returns
 * the invite; the session ends either way.
 */
export async function createAccountInviteOverXmpp(
  options: InviteOverXmppOptions,
): Promise<AccountInvite> {
  const session = new CopilotSession({
    service: options.service,
    domain: options.domain,
    username: options.username,
    password: options.password,
    resource: `attach-link-${crypto.randomBytes(4).toString('hex')}`,
    ...(options.tls ? { tls: options.tls } : {}),
  });
  try {
    await session.start();
    let result: Element;
    try {
      result = await session.iqRequest(
        options.domain,
        'set',
        xml('command', {
          xmlns: NS_COMMANDS,
          node: CREATE_ACCOUNT_INVITE_NODE,
          action: 'execute',
        }),
        options.timeoutMs ?? 15_000,
      );
    } catch (error) {
      const condition = (error as { condition?: unknown } | null)?.condition;
      if (condition === 'forbidden') {
        throw new InviteError(
          `${options.username}@${options.domain} is not an admin of the server (Prosody: admins = { … })`,
        );
      }
      if (condition === 'item-not-found' || condition === 'service-unavailable') {
        throw new InviteError(
          `${options.domain} has no "Create new account invite" command (enable mod_invites_adhoc)`,
        );
      }
      throw new InviteError(escapeLogText(errorMessage(error).slice(0, MAX_TEXT)));
    }
    return inviteFromCommandResult(result.getChild('command', NS_COMMANDS));
  } finally {
    await session.stop();
  }
}

/**
 * The project's attach link on the dashboard (MON_ATTACH_LINK_FILE: the `.copilot` file
 * `copilot-attach-link --out` writes): the link, its project name and its QR code. The link
 * carries a one-use invite to the XMPP server, so the dashboard hands it only to holders of the
 * admin token (POST /api/attach-link behind the AdminGate). The file is read at every request:
 * a new link made with a fresh invite shows without a restart. It is parsed as strictly as an
 * agent parses it, so the dashboard never shows a link an agent would refuse.
 */
import fs from 'node:fs';
import { errorMessage } from '@copilot/base/errors';
import type { Logger } from '@copilot/base/logger';
import { AdminGate, readAdminToken } from './admin-gate';
import { MAX_ATTACH_FILE_BYTES, parseAttachFile } from '@copilot/protocol/attach-link';
import { qrMatrix, qrSvg } from '@copilot/protocol/attach-qr';

export interface AttachLinkView {
  projectName: string;
  link: string;
  /** The QR code as an SVG data URL, or null when the link is too long for one. */
  qr: string | null;
  /** Why there is no QR code. */
  qrError?: string;
  /** The Monitor(s) the link sends agents' reports to. */
  monitorAddresses: string[];
}

export class AttachLinkFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AttachLinkFileError';
  }
}

/** Reads, checks and draws the link in `file`; throws AttachLinkFileError with the reason. */
export function readAttachLinkView(file: string): AttachLinkView {
  let text: string;
  try {
    const size = fs.statSync(file).size;
    if (size > MAX_ATTACH_FILE_BYTES) throw new Error('the file is too large');
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new AttachLinkFileError(`MON_ATTACH_LINK_FILE cannot be read: ${errorMessage(error)}`);
  }
  let projectName: string;
  let monitorAddresses: string[];
  try {
    const parsed = parseAttachFile(text);
    projectName = parsed.projectName;
    monitorAddresses = parsed.monitorAddresses ?? [];
  } catch (error) {
    throw new AttachLinkFileError(`MON_ATTACH_LINK_FILE: ${errorMessage(error)}`);
  }
  // parseAttachFile accepted exactly one non-comment line: the link as the admin made it.
  const link = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line) => line.trim())
    .find((line) => line !== '' && !line.startsWith('#'));
  if (link === undefined) throw new AttachLinkFileError('MON_ATTACH_LINK_FILE: no link');
  try {
    const svg = qrSvg(qrMatrix(link), { moduleSize: 4 });
    return {
      projectName,
      link,
      qr: `data:image/svg+xml;base64,${Buffer.from(svg, 'utf8').toString('base64')}`,
      monitorAddresses,
    };
  } catch (error) {
    return { projectName, link, qr: null, qrError: errorMessage(error), monitorAddresses };
  }
}

export interface AttachLinkSource {
  gate: AdminGate;
  /** Reads the link file now; throws AttachLinkFileError when it is missing or not valid. */
  read(): AttachLinkView;
}

/**
 * The dashboard's attach link source: the fleet console's gate when there is one (the same
 * token, one count of refusals), else a gate of its own on MON_ADMIN_TOKEN_FILE. The file is
 * checked once at start, so a wrong path shows in the log at once, not at the first request.
 */
export function attachLinkSource(
  config: { file: string; adminTokenFile: string },
  consoleGate: AdminGate | undefined,
  logger: Logger,
): AttachLinkSource {
  const gate =
    consoleGate ??
    new AdminGate(readAdminToken(config.adminTokenFile, logger), logger.child('admin'));
  try {
    readAttachLinkView(config.file);
  } catch (error) {
    logger.warn('the attach link file is not usable yet', { error: errorMessage(error) });
  }
  return { gate, read: () => readAttachLinkView(config.file) };
}

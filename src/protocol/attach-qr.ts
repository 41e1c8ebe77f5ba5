/**
 * The attach link as a QR code (ISO/IEC 18004), for a phone or a volunteer's webcam to read off
 * the Monitor's dashboard or a terminal: the modules come from qrcode-generator (Kazuhiko Arase,
 * MIT, no dependencies), drawn here as an SVG or as terminal text in Unicode half blocks.
 *
 * The link is ASCII (URLSearchParams percent-encodes the rest), so it goes in byte mode. Error
 * correction M when it fits, else L: a link with a CA certificate and a manager key is about
 * 2,000 characters, a version 35-40 code. A link longer than version 40-L holds (2,953 bytes)
 * has no QR code; the `.copilot` file carries it then.
 */
import qrcode from 'qrcode-generator';
import { CopilotError } from '../base/errors';

/** Bytes a version 40 code holds in byte mode at error correction L. */
export const MAX_QR_BYTES = 2_953;

/** Dark modules, row by row (true = dark), without the quiet zone. */
export type QrMatrix = boolean[][];

export class QrCodeError extends CopilotError {
  constructor(message: string) {
    super('CONFIG_INVALID', message);
    this.name = 'QrCodeError';
  }
}

/** The QR code's modules for `text` (ASCII), at error correction M when it fits, else L. */
export function qrMatrix(text: string): QrMatrix {
  if (!/^[\x20-\x7e]*$/.test(text)) throw new QrCodeError('QR code: the text must be ASCII');
  if (text.length > MAX_QR_BYTES) {
    throw new QrCodeError(
      `the link is ${text.length} characters, more than a QR code holds (${MAX_QR_BYTES}): hand out the .copilot file`,
    );
  }
  let lastError: unknown;
  for (const level of ['M', 'L'] as const) {
    try {
      const code = qrcode(0, level);
      code.addData(text, 'Byte');
      code.make();
      const size = code.getModuleCount();
      return Array.from({ length: size }, (_, row) =>
        Array.from({ length: size }, (__, column) => code.isDark(row, column)),
      );
    } catch (error) {
      lastError = error;
    }
  }
  throw new QrCodeError(`QR code: ${String(lastError)}`);
}

/** The quiet zone (light modules around the code) the standard asks for. */
export const QR_QUIET_ZONE = 4;

function withQuietZone(matrix: QrMatrix, margin: number): QrMatrix {
  const size = matrix.length + 2 * margin;
  const light = (): boolean[] => Array.from({ length: size }, () => false);
  return [
    ...Array.from({ length: margin }, light),
    ...matrix.map((row) => [
      ...Array.from({ length: margin }, () => false),
      ...row,
      ...Array.from({ length: margin }, () => false),
    ]),
    ...Array.from({ length: margin }, light),
  ];
}

/**
 * The code as terminal text, two module rows per line: `█` both light, `▀` top light, `▄`
 * bottom light, space both dark. The blocks are the light modules, so the terminal must draw
 * them light on dark: with `ansi`, each line is wrapped in bright white on black (and reset),
 * whatever the terminal's theme.
 */
export function qrTerminalText(
  matrix: QrMatrix,
  options: { ansi?: boolean; margin?: number } = {},
): string {
  const full = withQuietZone(matrix, options.margin ?? QR_QUIET_ZONE);
  const lines: string[] = [];
  for (let row = 0; row < full.length; row += 2) {
    const top = full[row] ?? [];
    const bottom = full[row + 1];
    const line = top
      .map((dark, column) => {
        const topLight = !dark;
        const bottomLight = bottom === undefined ? false : !bottom[column];
        if (topLight && bottomLight) return '█';
        if (topLight) return '▀';
        if (bottomLight) return '▄';
        return ' ';
      })
      .join('');
    lines.push(options.ansi ? `\x1b[97;40m${line}\x1b[0m` : line);
  }
  return lines.join('\n') + '\n';
}

/** The code as a standalone SVG: black modules on white, one path, scalable (viewBox). */
export function qrSvg(
  matrix: QrMatrix,
  options: { moduleSize?: number; margin?: number; title?: string } = {},
): string {
  const margin = options.margin ?? QR_QUIET_ZONE;
  const size = matrix.length + 2 * margin;
  const pixels = size * (options.moduleSize ?? 4);
  const path: string[] = [];
  matrix.forEach((row, y) => {
    row.forEach((dark, x) => {
      if (dark) path.push(`M${x + margin} ${y + margin}h1v1h-1z`);
    });
  });
  const title = options.title
    ? `<title>${options.title.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)}</title>`
    : '';
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${size} ${size}" width="${pixels}" height="${pixels}" shape-rendering="crispEdges">` +
    `${title}<rect width="${size}" height="${size}" fill="#fff"/>` +
    `<path fill="#000" d="${path.join('')}"/></svg>\n`
  );
}

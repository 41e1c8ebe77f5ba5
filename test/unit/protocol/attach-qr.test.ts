import { describe, expect, it } from 'vitest';
import {
  MAX_QR_BYTES,
  QR_QUIET_ZONE,
  QrCodeError,
  qrMatrix,
  qrSvg,
  qrTerminalText,
} from '@copilot/protocol/attach-qr';

const LINK = `copilot://attach?v=1&name=Test&invite=${'a'.repeat(40)}`;

describe('attach link QR codes', () => {
  it('has the finder patterns of a QR code, and a larger version for a longer link', () => {
    const matrix = qrMatrix(LINK);
    const size = matrix.length;
    expect((size - 17) % 4).toBe(0); // version v is 17 + 4v modules
    for (const [row, column] of [
      [0, 0],
      [0, size - 7],
      [size - 7, 0],
    ] as const) {
      // The 7x7 finder: a dark ring, a light ring, a dark 3x3 centre.
      expect(matrix[row]?.[column]).toBe(true);
      expect(matrix[row + 1]?.[column + 1]).toBe(false);
      expect(matrix[row + 3]?.[column + 3]).toBe(true);
      expect(matrix[row + 6]?.[column + 6]).toBe(true);
    }
    expect(qrMatrix(`${LINK}${'b'.repeat(2_000)}`).length).toBeGreaterThan(size);
  });

  it('refuses a link longer than a QR code holds, and non-ASCII text', () => {
    expect(() => qrMatrix('x'.repeat(MAX_QR_BYTES + 1))).toThrow(/\.copilot file/);
    expect(() => qrMatrix('copilot://attach?name=é')).toThrow(QrCodeError);
    expect(qrMatrix('x'.repeat(MAX_QR_BYTES)).length).toBe(177); // version 40
  });

  it('prints two module rows per line in half blocks, light blocks around the code', () => {
    const matrix = qrMatrix(LINK);
    const text = qrTerminalText(matrix);
    const lines = text.trimEnd().split('\n');
    const side = matrix.length + 2 * QR_QUIET_ZONE;
    expect(lines).toHaveLength(Math.ceil(side / 2));
    expect(lines.every((line) => [...line].length === side)).toBe(true);
    expect(lines[0]).toBe('█'.repeat(side));
    expect(text).toMatch(/^[█▀▄ \n]+$/);
    const ansi = qrTerminalText(matrix, { ansi: true }).split('\n')[0] ?? '';
    expect(ansi.startsWith('\x1b[97;40m')).toBe(true);
    expect(ansi.endsWith('\x1b[0m')).toBe(true);
  });

  it('draws an SVG with one square per dark module and an escaped title', () => {
    const matrix = qrMatrix(LINK);
    const dark = matrix.flat().filter(Boolean).length;
    const svg = qrSvg(matrix, { title: 'A <b>"project"</b>' });
    expect(svg.match(/h1v1h-1z/g)).toHaveLength(dark);
    expect(svg).toContain(`viewBox="0 0 ${matrix.length + 8} ${matrix.length + 8}"`);
    expect(svg).toContain('<title>A &#60;b&#62;&#34;project&#34;&#60;/b&#62;</title>');
  });
});

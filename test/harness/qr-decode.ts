/**
 * Reading QR codes back in tests, with a real decoder: Debian's zbar-tools (`zbarimg`, from
 * scripts/setup.sh). A module matrix is drawn as a PNG with the icon script's encoder
 * (scripts/make-icons.ts encodePng, no image library); a screenshot is a PNG already.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { encodePng } from '../../scripts/make-icons';
import { runCommand } from './processes';

export function matrixPng(matrix: readonly (readonly boolean[])[], scale = 4, margin = 4): Buffer {
  const side = (matrix.length + 2 * margin) * scale;
  const rgba = new Uint8Array(side * side * 4);
  for (let y = 0; y < side; y += 1) {
    for (let x = 0; x < side; x += 1) {
      const dark = matrix[Math.floor(y / scale) - margin]?.[Math.floor(x / scale) - margin];
      rgba.fill(dark === true ? 0 : 255, (y * side + x) * 4, (y * side + x) * 4 + 3);
      rgba[(y * side + x) * 4 + 3] = 255;
    }
  }
  return encodePng(side, side, rgba);
}

/**
 * The modules of terminal QR text in half blocks (src/protocol/attach-qr.ts qrTerminalText, no
 * ANSI): `█` both light, `▀` top light, `▄` bottom light, space both dark.
 */
export function matrixOfTerminalText(text: string): boolean[][] {
  const matrix: boolean[][] = [];
  for (const line of text.split('\n').filter((entry) => entry !== '')) {
    const chars = [...line];
    matrix.push(chars.map((c) => c !== '█' && c !== '▀'));
    matrix.push(chars.map((c) => c !== '█' && c !== '▄'));
  }
  return matrix;
}

/** Every QR code zbarimg finds in the PNG, as text. */
export async function decodeQrPng(png: Buffer | string): Promise<string[]> {
  let file = typeof png === 'string' ? png : '';
  let dir: string | undefined;
  if (typeof png !== 'string') {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'copilot-qr-'));
    file = path.join(dir, 'code.png');
    fs.writeFileSync(file, png);
  }
  try {
    // --raw: the text only; -q: no statistics. One code per line (a link has no newline).
    const { stdout } = await runCommand('zbarimg', [
      '-q',
      '--raw',
      '-Sdisable',
      '-Sqrcode.enable',
      file,
    ]);
    return stdout.split('\n').filter((line) => line !== '');
  } finally {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Reading QR codes back in tests, with a real decoder: Debian's zbar-tools (`zbarimg`, from
 * scripts/setup.sh). A module matrix is drawn as a grey-scale PNG here (node:zlib, no image
 * library); a screenshot is a PNG already.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { runCommand } from './processes';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] ?? 0) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** A PNG of the modules (true = dark), `scale` pixels each, with a light quiet zone of `margin`. */
export function matrixPng(matrix: readonly (readonly boolean[])[], scale = 4, margin = 4): Buffer {
  const side = (matrix.length + 2 * margin) * scale;
  const rows: Buffer[] = [];
  for (let y = 0; y < side; y += 1) {
    const row = Buffer.alloc(side + 1); // filter byte 0, then grey pixels
    for (let x = 0; x < side; x += 1) {
      const dark = matrix[Math.floor(y / scale) - margin]?.[Math.floor(x / scale) - margin];
      row[x + 1] = dark === true ? 0 : 255;
    }
    rows.push(row);
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 8; // bit depth
  header[9] = 0; // grey scale
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', zlib.deflateSync(Buffer.concat(rows))),
    chunk('IEND', Buffer.alloc(0)),
  ]);
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

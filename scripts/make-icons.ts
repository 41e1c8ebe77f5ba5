/**
 * Draws the tray icons (one per state, 16 px and 32 px as `@2x`) and the 512 px app icon, and
 * writes them as PNG files under assets/. Pure JS: shapes are rasterised with 4x4 supersampling
 * and the PNG is encoded with node:zlib. Run with `npx tsx scripts/make-icons.ts`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

type Rgba = readonly [number, number, number, number];
/** A shape answers whether a point, in unit coordinates (0..1 across the icon), is inside it. */
type Shape = (x: number, y: number) => boolean;
interface Layer {
  shape: Shape;
  color: Rgba;
}

export type TrayState = 'idle' | 'running' | 'paused' | 'error';
export const TRAY_STATES: readonly TrayState[] = ['idle', 'running', 'paused', 'error'];

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = (CRC_TABLE[(c ^ byte) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** Encodes straight (non-premultiplied) RGBA pixels as an 8-bit truecolour+alpha PNG. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8; // bit depth
  header[9] = 6; // colour type RGBA
  const rows = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width * 4 + 1)] = 0; // filter: none
    Buffer.from(rgba.buffer, rgba.byteOffset + y * width * 4, width * 4).copy(
      rows,
      y * (width * 4 + 1) + 1,
    );
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Rasterises layers (painted in order, "over" compositing) at `size` px with 4x4 supersampling. */
export function render(size: number, layers: readonly Layer[]): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  const samples = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < samples; sy++) {
        for (let sx = 0; sx < samples; sx++) {
          const x = (px + (sx + 0.5) / samples) / size;
          const y = (py + (sy + 0.5) / samples) / size;
          let cr = 0;
          let cg = 0;
          let cb = 0;
          let ca = 0;
          for (const layer of layers) {
            if (!layer.shape(x, y)) continue;
            const la = layer.color[3] / 255;
            cr = layer.color[0] * la + cr * (1 - la);
            cg = layer.color[1] * la + cg * (1 - la);
            cb = layer.color[2] * la + cb * (1 - la);
            ca = la + ca * (1 - la);
          }
          r += cr;
          g += cg;
          b += cb;
          a += ca;
        }
      }
      const n = samples * samples;
      const i = (py * size + px) * 4;
      const alpha = a / n;
      out[i] = alpha > 0 ? Math.round(r / n / alpha) : 0;
      out[i + 1] = alpha > 0 ? Math.round(g / n / alpha) : 0;
      out[i + 2] = alpha > 0 ? Math.round(b / n / alpha) : 0;
      out[i + 3] = Math.round(alpha * 255);
    }
  }
  return out;
}

const disc =
  (cx: number, cy: number, r: number): Shape =>
  (x, y) =>
    (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
const ring =
  (cx: number, cy: number, outer: number, inner: number): Shape =>
  (x, y) => {
    const d = (x - cx) ** 2 + (y - cy) ** 2;
    return d <= outer * outer && d >= inner * inner;
  };
const rect =
  (x0: number, y0: number, x1: number, y1: number): Shape =>
  (x, y) =>
    x >= x0 && x <= x1 && y >= y0 && y <= y1;
const roundedRect =
  (x0: number, y0: number, x1: number, y1: number, r: number): Shape =>
  (x, y) => {
    if (!rect(x0, y0, x1, y1)(x, y)) return false;
    const cx = Math.min(Math.max(x, x0 + r), x1 - r);
    const cy = Math.min(Math.max(y, y0 + r), y1 - r);
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r;
  };
/** Triangle pointing right, for "running". */
const playTriangle: Shape = (x, y) => {
  const left = 0.38;
  const right = 0.74;
  if (x < left || x > right) return false;
  const half = 0.22 * (1 - (x - left) / (right - left));
  return Math.abs(y - 0.5) <= half;
};

const WHITE: Rgba = [255, 255, 255, 255];
const STATE_COLORS: Record<TrayState, Rgba> = {
  idle: [96, 125, 139, 255],
  running: [46, 160, 67, 255],
  paused: [230, 145, 20, 255],
  error: [211, 47, 47, 255],
};

export function trayLayers(state: TrayState): Layer[] {
  const base: Layer = { shape: disc(0.5, 0.5, 0.47), color: STATE_COLORS[state] };
  switch (state) {
    case 'idle':
      return [base, { shape: ring(0.5, 0.5, 0.26, 0.15), color: WHITE }];
    case 'running':
      return [base, { shape: playTriangle, color: WHITE }];
    case 'paused':
      return [
        base,
        { shape: rect(0.32, 0.28, 0.44, 0.72), color: WHITE },
        { shape: rect(0.56, 0.28, 0.68, 0.72), color: WHITE },
      ];
    case 'error':
      return [
        base,
        { shape: rect(0.44, 0.22, 0.56, 0.6), color: WHITE },
        { shape: disc(0.5, 0.74, 0.07), color: WHITE },
      ];
  }
}

/** The app icon: a blue tile with an orbit and two "pilots" on it. */
export function appIconLayers(): Layer[] {
  return [
    { shape: roundedRect(0.04, 0.04, 0.96, 0.96, 0.2), color: [21, 101, 192, 255] },
    { shape: ring(0.5, 0.5, 0.34, 0.29), color: [255, 255, 255, 230] },
    { shape: disc(0.5, 0.5, 0.13), color: WHITE },
    { shape: disc(0.76, 0.3, 0.085), color: [255, 193, 7, 255] },
    { shape: disc(0.24, 0.7, 0.085), color: [129, 212, 250, 255] },
  ];
}

function write(path: string, size: number, layers: readonly Layer[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodePng(size, size, render(size, layers)));
  process.stdout.write(`wrote ${path}\n`);
}

function main(): void {
  const assets = join(dirname(fileURLToPath(import.meta.url)), '..', 'assets');
  for (const state of TRAY_STATES) {
    write(join(assets, 'tray', `tray-${state}.png`), 16, trayLayers(state));
    write(join(assets, 'tray', `tray-${state}@2x.png`), 32, trayLayers(state));
  }
  write(join(assets, 'icon.png'), 512, appIconLayers());
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();

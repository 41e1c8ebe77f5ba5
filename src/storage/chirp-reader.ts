/**
 * Reads a Chirp connection as the protocol needs it: a line at a time (with a length cap) or an
 * exact number of bytes handed on to a sink. At most `highWaterBytes` are held: past that the
 * socket is paused until they are taken, so a server that floods us costs no memory. Every wait
 * ends when the socket fails or closes, so a timeout is simply `socket.destroy(error)`.
 */
import type net from 'node:net';
import { ChirpError } from './chirp-error';

const NEWLINE = 0x0a;

export class ChirpReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closed = false;
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly highWaterBytes = 256 * 1024,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
      if (this.buffered >= this.highWaterBytes) socket.pause();
      this.notify();
    });
    socket.on('error', (error) => {
      this.failure ??= error;
      this.notify();
    });
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
    socket.on('end', () => {
      this.closed = true;
      this.notify();
    });
  }

  /** The next line without its '\n', decoded as UTF-8; EPROTO when it is over `maxBytes`. */
  async readLine(maxBytes: number): Promise<string> {
    for (;;) {
      const end = this.indexOfNewline(maxBytes + 1);
      if (end >= 0) return this.take(end + 1).toString('utf8', 0, end);
      if (this.buffered > maxBytes) {
        throw new ChirpError('EPROTO', `Chirp reply line is longer than ${maxBytes} bytes`);
      }
      await this.more();
    }
  }

  /** Hands exactly `length` bytes to `sink` in order, waiting for each write. */
  async readInto(length: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    let left = length;
    while (left > 0) {
      if (this.buffered === 0) await this.more();
      const chunk = this.take(Math.min(left, this.chunks[0]?.length ?? 0));
      left -= chunk.length;
      await sink(chunk);
    }
  }

  private indexOfNewline(limit: number): number {
    let offset = 0;
    for (const chunk of this.chunks) {
      const searchable = Math.min(chunk.length, limit - offset);
      if (searchable <= 0) return -1;
      const at = chunk.subarray(0, searchable).indexOf(NEWLINE);
      if (at >= 0) return offset + at;
      offset += chunk.length;
    }
    return -1;
  }

  /** Removes the first `count` buffered bytes (all of them must be buffered). */
  private take(count: number): Buffer {
    const parts: Buffer[] = [];
    let needed = count;
    while (needed > 0) {
      const head = this.chunks[0] as Buffer;
      if (head.length <= needed) {
        parts.push(head);
        this.chunks.shift();
        needed -= head.length;
      } else {
        parts.push(head.subarray(0, needed));
        this.chunks[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.buffered -= count;
    if (this.buffered < this.highWaterBytes / 2 && this.socket.isPaused()) this.socket.resume();
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, count);
  }

  /** Resolves when more bytes arrived; throws once the connection has failed or closed. */
  private more(): Promise<void> {
    if (this.failure) return Promise.reject(this.asChirpError(this.failure));
    if (this.closed) {
      return Promise.reject(
        new ChirpError('ECONNRESET', 'the Chirp server closed the connection in mid-reply'),
      );
    }
    return new Promise<void>((resolve) => {
      this.wake = resolve;
    }).then(() => {
      if (this.buffered > 0) return;
      return this.more();
    });
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private asChirpError(error: Error): ChirpError {
    if (error instanceof ChirpError) return error;
    return new ChirpError('ECONNRESET', `Chirp connection failed: ${error.message}`, undefined, {
      cause: error,
    });
  }
}

import net from 'node:net';
import { backoffDelay } from '@copilot/base/backoff';
import { silentLogger, type Logger } from '@copilot/base/logger';
import { carbonLine, type MetricPoint } from './metric-path';

export interface CarbonClientOptions {
  host: string;
  port: number;
  /** Lines kept while Carbon is unreachable; the oldest are dropped beyond this. */
  maxBufferedLines?: number;
  logger?: Logger;
  /** First reconnect delay; doubles up to 30 s. */
  reconnectInitialMs?: number;
}

/**
 * Carbon's plaintext protocol (`path value timestamp\n` over TCP) with a reconnecting
 * connection. Lines are buffered while Carbon is down or not reading, up to a bound; the
 * plaintext protocol has no acknowledgements, so lines written to a connection that then breaks
 * may be lost.
 */
export class CarbonClient {
  private socket: net.Socket | undefined;
  private connected = false;
  private closed = false;
  private buffer: string[] = [];
  private attempt = 0;
  private timer: NodeJS.Timeout | undefined;
  private droppedTotal = 0;
  private sentTotal = 0;
  private readonly maxBuffered: number;
  private readonly logger: Logger;

  constructor(private readonly options: CarbonClientOptions) {
    this.maxBuffered = options.maxBufferedLines ?? 100_000;
    this.logger = options.logger ?? silentLogger;
    this.connect();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  get bufferedLines(): number {
    return this.buffer.length;
  }

  get droppedLines(): number {
    return this.droppedTotal;
  }

  get sentLines(): number {
    return this.sentTotal;
  }

  send(points: readonly MetricPoint[]): void {
    for (const point of points) {
      if (Number.isFinite(point.value)) this.buffer.push(carbonLine(point));
    }
    const excess = this.buffer.length - this.maxBuffered;
    if (excess > 0) {
      this.buffer.splice(0, excess);
      this.droppedTotal += excess;
      this.logger.warn('Carbon buffer full: dropped the oldest lines', { dropped: excess });
    }
    this.flush();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = undefined;
    if (!socket) return;
    await new Promise<void>((resolve) => {
      if (socket.destroyed) {
        resolve();
        return;
      }
      socket.once('close', () => resolve());
      socket.end();
      setTimeout(() => {
        socket.destroy();
        resolve();
      }, 2_000).unref();
    });
  }

  private flush(): void {
    if (!this.connected || !this.socket || this.buffer.length === 0) return;
    // While Carbon does not keep up, lines wait in the bounded buffer, not in the socket's.
    if (this.socket.writableNeedDrain) return;
    const lines = this.buffer;
    this.buffer = [];
    this.sentTotal += lines.length;
    this.socket.write(lines.join(''));
  }

  private connect(): void {
    if (this.closed) return;
    const socket = net.connect({ host: this.options.host, port: this.options.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('connect', () => {
      this.connected = true;
      this.attempt = 0;
      this.logger.info('connected to Carbon', { host: this.options.host, port: this.options.port });
      this.flush();
    });
    socket.on('drain', () => this.flush());
    socket.on('data', () => undefined);
    socket.on('error', (error) => {
      this.logger.debug('Carbon connection error', { error: error.message });
    });
    socket.on('close', () => {
      const wasConnected = this.connected;
      this.connected = false;
      if (this.socket === socket) this.socket = undefined;
      if (this.closed) return;
      if (wasConnected) this.logger.warn('lost the connection to Carbon; reconnecting');
      const delay = backoffDelay(this.attempt, {
        initialMs: this.options.reconnectInitialMs ?? 500,
        maxMs: 30_000,
        jitter: 0.2,
      });
      this.attempt += 1;
      this.timer = setTimeout(() => this.connect(), delay);
    });
  }
}

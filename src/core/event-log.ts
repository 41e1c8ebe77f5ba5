/**
 * The agent's log: levelled, structured records kept in a bounded in-memory ring (for getLog and
 * the 'log' event) and written to a rotating file under the data dir.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LogEntry } from '../contract/ui-contract';
import {
  createLogger,
  escapeLogText,
  formatLogRecord,
  type LogLevel,
  type LogRecord,
  type Logger,
} from '../base/logger';

export interface EventLogOptions {
  /** Directory of the log file; none: memory only. */
  dir?: string;
  fileName?: string;
  ringSize?: number;
  /** Rotate when the file passes this size; keeps `keepFiles` old files (.1, .2, ...). */
  maxFileBytes?: number;
  keepFiles?: number;
  minimumLevel?: LogLevel;
  /** Also write each record here (e.g. the console). */
  echo?: (record: LogRecord) => void;
}

type Listener = (entry: LogEntry) => void;

/**
 * The UI's copy of a record. Its strings are escaped like the log file's (escapeLogText), so that
 * an entry shows as one line, however the UI renders it, and the ring stays bounded in size.
 */
function toEntry(record: LogRecord): LogEntry {
  const entry: LogEntry = {
    time: record.time,
    level: record.level,
    component: escapeLogText(record.component),
    message: escapeLogText(record.message),
  };
  if (record.fields) {
    const fields: Record<string, string | number | boolean | null> = {};
    for (const [key, value] of Object.entries(record.fields)) {
      if (value !== undefined)
        fields[escapeLogText(key)] = typeof value === 'string' ? escapeLogText(value) : value;
    }
    entry.fields = fields;
  }
  return entry;
}

export class EventLog {
  private readonly ring: LogEntry[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly ringSize: number;
  private readonly file: string | undefined;
  private readonly maxFileBytes: number;
  private readonly keepFiles: number;
  private readonly minimumLevel: LogLevel;
  private readonly echo: ((record: LogRecord) => void) | undefined;
  private fileBytes = 0;
  private fileBroken = false;

  constructor(options: EventLogOptions = {}) {
    this.ringSize = options.ringSize ?? 1000;
    this.maxFileBytes = options.maxFileBytes ?? 1024 * 1024;
    this.keepFiles = options.keepFiles ?? 3;
    this.minimumLevel = options.minimumLevel ?? 'debug';
    this.echo = options.echo;
    if (options.dir) {
      fs.mkdirSync(options.dir, { recursive: true });
      this.file = path.join(options.dir, options.fileName ?? 'agent.log');
      try {
        this.fileBytes = fs.statSync(this.file).size;
      } catch {
        this.fileBytes = 0;
      }
    }
  }

  logger(component: string): Logger {
    return createLogger(component, (record) => this.record(record), this.minimumLevel);
  }

  record(record: LogRecord): void {
    const entry = toEntry(record);
    this.ring.push(entry);
    if (this.ring.length > this.ringSize) this.ring.splice(0, this.ring.length - this.ringSize);
    this.echo?.(record);
    this.writeFile(formatLogRecord(record) + '\n');
    for (const listener of this.listeners) listener(entry);
  }

  /** Newest last, at most `limit`. */
  entries(limit = 200): LogEntry[] {
    return this.ring.slice(-Math.max(0, limit));
  }

  onEntry(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get filePath(): string | undefined {
    return this.file;
  }

  private writeFile(line: string): void {
    if (!this.file || this.fileBroken) return;
    try {
      const bytes = Buffer.byteLength(line);
      if (this.fileBytes + bytes > this.maxFileBytes) this.rotate();
      fs.appendFileSync(this.file, line);
      this.fileBytes += bytes;
    } catch (error) {
      // A log that cannot be written must not stop the agent; say so once on stderr.
      this.fileBroken = true;
      process.stderr.write(`copilot: cannot write log file ${this.file}: ${String(error)}\n`);
    }
  }

  private rotate(): void {
    if (!this.file) return;
    for (let index = this.keepFiles - 1; index >= 1; index -= 1) {
      const from = `${this.file}.${index}`;
      if (fs.existsSync(from)) fs.renameSync(from, `${this.file}.${index + 1}`);
    }
    // The rename to .<keepFiles> replaced the oldest file.
    if (fs.existsSync(this.file)) fs.renameSync(this.file, `${this.file}.1`);
    this.fileBytes = 0;
  }
}

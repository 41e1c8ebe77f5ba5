/**
 * xmpp.js 0.14 throws from a socket's data handler (uncaught, the process ends) when data
 * arrives after the connection detached its XML parser: after a stream error it sent itself
 * (`#onParserError`) or while stop() closes a stream the server is still writing to. With
 * thousands of simulated agents in one process that ended bench runs. In the bench process
 * only, such data is dropped and counted (lateDataDropped), so the run goes on and says so.
 */
let installed = false;
export const lateData = { dropped: 0, teardownErrors: 0 };

/**
 * The same data handler's TypeError (the patch above did not catch every case: two 10,000-agent
 * runs still ended on it) and sockets reset while thousands of sessions stop: counted, not fatal.
 * Anything else still ends the process.
 */
function isKnownTeardownError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if ((error as NodeJS.ErrnoException).code === 'ECONNRESET') return true;
  return error instanceof TypeError && (error.stack ?? '').includes('@xmpp/connection');
}

interface DataHandler {
  parser: unknown;
  _onData(data: Buffer): void;
}

export async function installLateDataGuard(): Promise<void> {
  if (installed) return;
  // No type declarations for this xmpp.js package (a dependency of @xmpp/client).
  const moduleName = '@xmpp/connection';
  const loaded = (await import(moduleName)) as { default: { prototype: DataHandler } };
  const prototype = loaded.default.prototype;
  const original = prototype._onData;
  prototype._onData = function (this: DataHandler, data: Buffer): void {
    if (this.parser === null || this.parser === undefined) {
      lateData.dropped += 1;
      return;
    }
    original.call(this, data);
  };
  process.on('uncaughtException', (error) => {
    if (isKnownTeardownError(error)) {
      lateData.teardownErrors += 1;
      return;
    }
    process.stderr.write(`bench: ${error.stack ?? error.message}\n`);
    process.exit(1);
  });
  installed = true;
}

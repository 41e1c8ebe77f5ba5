import net from 'node:net';

/**
 * Makes every TCP socket this process opens from now on disable Nagle's algorithm, to show what
 * `socket.setNoDelay(true)` in the XMPP transport would change (bench --nodelay, which also sets
 * BENCH_NODELAY=1 for the manager child). Not used by default: the default run measures the
 * code as it is.
 */
export function disableNagleEverywhere(): void {
  const connect = net.Socket.prototype.connect;
  net.Socket.prototype.connect = function (this: net.Socket, ...args: unknown[]): net.Socket {
    this.setNoDelay(true);
    return (connect as (...rest: unknown[]) => net.Socket).apply(this, args);
  } as typeof connect;
}

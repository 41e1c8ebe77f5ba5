/**
 * Two ejabberd nodes clustered on one machine (issue #14), as a project scales out its XMPP
 * service: each node is a startEjabberd server (own node name, c2s port, spool, log), both share
 * one Erlang cookie and find each other through a private epmd on a free loopback port (not the
 * machine's epmd on 4369, which other programs may use). The second node joins the first with
 * `ejabberdctl join_cluster`, so accounts, rosters and MUC rooms are shared and a message from
 * a client on one node reaches a client on the other.
 *
 * Clients reach the cluster through `front`, a round-robin TCP balancer on loopback (what
 * HAProxy or DNS SRV records do in a deployment): a client whose node goes down reconnects to
 * the same address and lands on a node still up. Everything listens on 127.0.0.1 only.
 */
import crypto from 'node:crypto';
import { waitForPort, freePort } from './ports';
import { startProcess, type ServiceProcess } from './processes';
import { connectXmpp, type ProsodyServer, type XmppUser } from './prosody';
import { startEjabberd, type EjabberdOptions, type EjabberdServer } from './ejabberd';
import { startTcpBalancer, type TcpBalancer } from './tcp-balancer';
import { until } from './until';

/** Where a client connects to reach the cluster (the balancer), in the servers' own terms. */
export type XmppFront = Pick<
  ProsodyServer,
  'host' | 'port' | 'service' | 'domain' | 'mucDomain' | 'tls' | 'jid'
>;

export interface EjabberdCluster {
  /** The first node (the one the others joined) and the second. */
  readonly nodes: readonly [EjabberdServer, EjabberdServer];
  /** The balancer in front of both nodes. */
  readonly balancer: TcpBalancer;
  readonly front: XmppFront;
  /** Node names `list_cluster` prints on the given node (both, once joined). */
  members(node?: EjabberdServer): Promise<string[]>;
  /** Stops the balancer, both nodes and the epmd. */
  stop(): Promise<void>;
}

export type EjabberdClusterOptions = Omit<
  EjabberdOptions,
  'epmdPort' | 'erlangCookie' | 'probeUser' | 'tls'
>;

async function startEpmd(): Promise<{ port: number; process: ServiceProcess }> {
  const port = await freePort();
  const proc = await startProcess({
    name: 'epmd',
    command: 'epmd',
    args: ['-port', String(port), '-address', '127.0.0.1'],
    readyTimeoutMs: 10_000,
    ready: async (_proc, signal) => {
      await waitForPort(port, '127.0.0.1', 10_000, { signal });
    },
  });
  return { port, process: proc };
}

/**
 * Starts two ejabberd nodes, joins the second to the first and waits until both list each
 * other and a login through either node's port succeeds. `users` are registered once, on the
 * first node, before the join (Mnesia then holds them on both).
 */
export async function startEjabberdCluster(
  options: EjabberdClusterOptions = {},
): Promise<EjabberdCluster> {
  const epmd = await startEpmd();
  const probe: XmppUser = {
    username: `harness-cluster-probe-${crypto.randomBytes(3).toString('hex')}`,
    password: crypto.randomBytes(12).toString('hex'),
  };
  const shared: EjabberdOptions = {
    ...options,
    epmdPort: epmd.port,
    erlangCookie: crypto.randomBytes(18).toString('hex'),
    probeUser: probe,
  };
  const started: EjabberdServer[] = [];
  let balancer: TcpBalancer | undefined;
  const stopAll = async (): Promise<void> => {
    await balancer?.stop();
    // The joined node first: the first then has no peer to wait for when it goes.
    for (const node of [...started].reverse()) await node.stop().catch(() => undefined);
    await epmd.process.stop();
  };
  try {
    const first = await startEjabberd(shared);
    started.push(first);
    const second = await startEjabberd({ ...shared, users: [] });
    started.push(second);
    await second.ctl(['join_cluster', first.nodeName]);
    const members = async (node: EjabberdServer = first): Promise<string[]> =>
      (await node.ctl(['list_cluster']))
        .split(/\s+/)
        .map((name) => name.replace(/^'|'$/g, ''))
        .filter((name) => name !== '');
    await until(
      'both ejabberd nodes in one cluster',
      async () => {
        const names = await members(second).catch((): string[] => []);
        return names.includes(first.nodeName) && names.includes(second.nodeName);
      },
      60_000,
    );
    // join_cluster restarts ejabberd on the joining node: wait for its logins again.
    await until(
      'a login on the joined node',
      async () => {
        try {
          await (await connectXmpp(second, probe, { timeoutMs: 5_000 })).stop();
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
    balancer = await startTcpBalancer([first, second]);
    const front: XmppFront = {
      host: '127.0.0.1',
      port: balancer.port,
      service: `xmpp://127.0.0.1:${balancer.port}`,
      domain: first.domain,
      mucDomain: first.mucDomain,
      tls: first.tls,
      jid: first.jid,
    };
    return { nodes: [first, second], balancer, front, members, stop: stopAll };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

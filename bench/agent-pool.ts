/**
 * Many simulated agents in this process. To avoid registering one account per agent they share
 * a few accounts with distinct resources (20 per account: Prosody sends each resource's presence
 * to the account's other resources, so fewer, fuller accounts would cost N² presence stanzas).
 */
import http from 'node:http';
import type { ProsodyServer, XmppUser } from '@test/harness';
import { SimAgent, newCounters, type JobTiming, type SimCounters } from './sim-agent';

export const RESOURCES_PER_ACCOUNT = 20;

export function benchAccounts(agents: number): XmppUser[] {
  const count = Math.ceil(agents / RESOURCES_PER_ACCOUNT);
  return Array.from({ length: count }, (_, index) => ({
    username: `simagent${index}`,
    password: `sim-password-${index}`,
  }));
}

export interface LoopSettings {
  replyTimeoutMs: number;
  idleRetryMs: number;
}

export class AgentPool {
  readonly counters: SimCounters = newCounters();
  readonly agents: SimAgent[] = [];
  onJobDone: ((timing: JobTiming) => void) | undefined;
  private readonly settings: LoopSettings = { replyTimeoutMs: 5_000, idleRetryMs: 200 };
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  private loops: Array<Promise<void>> = [];
  private running = false;

  /**
   * `services`: where the agents connect, in turn (the nodes of a cluster); default the
   * server's own service.
   */
  constructor(
    private readonly prosody: Pick<ProsodyServer, 'service' | 'domain'>,
    private readonly accounts: readonly XmppUser[],
    private readonly managerAddress: string,
    private readonly services: readonly string[] = [prosody.service],
    private readonly firstResource = 0,
  ) {}

  get size(): number {
    return this.agents.length;
  }

  resetCounters(): void {
    Object.assign(this.counters, newCounters());
  }

  /** Connects agents until there are `count`, `concurrency` logins at a time. */
  async grow(count: number, concurrency = 25): Promise<number> {
    const started = performance.now();
    const capacity = this.accounts.length * RESOURCES_PER_ACCOUNT;
    if (count > capacity) throw new Error(`only ${capacity} agent slots (accounts × resources)`);
    const fresh: SimAgent[] = [];
    for (let index = this.agents.length; index < count; index += 1) {
      const account = this.accounts[index % this.accounts.length] as XmppUser;
      const settings = this.settings;
      const agent = new SimAgent({
        service: this.services[index % this.services.length] ?? this.prosody.service,
        domain: this.prosody.domain,
        username: account.username,
        password: account.password,
        resource: `sim${this.firstResource + index}`,
        managerAddress: this.managerAddress,
        get replyTimeoutMs() {
          return settings.replyTimeoutMs;
        },
        get idleRetryMs() {
          return settings.idleRetryMs;
        },
        counters: this.counters,
        onJobDone: (timing) => this.onJobDone?.(timing),
        httpAgent: this.httpAgent,
      });
      this.agents.push(agent);
      fresh.push(agent);
    }
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < fresh.length) {
        const agent = fresh[next] as SimAgent;
        next += 1;
        await agent.start();
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    return performance.now() - started;
  }

  /** Starts job loops on the first `count` agents; they run until stopLoops(). */
  startLoops(count: number, settings: LoopSettings): void {
    Object.assign(this.settings, settings);
    this.running = true;
    this.loops = this.agents.slice(0, count).map((agent) => agent.loop(() => this.running));
  }

  /** Asks the loops to stop and waits until every cycle in flight has ended. */
  async stopLoops(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  async close(): Promise<void> {
    this.running = false;
    await Promise.all(this.agents.map((agent) => agent.stop()));
    this.httpAgent.destroy();
  }
}

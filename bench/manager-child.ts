/**
 * The manager as the benchmark runs it in its own process: the same configuration path and
 * components as manager/bin/copilot-jobmanager-generic.ts (JM_* variables from the environment,
 * console logging at info), plus a CPU profiler switched on and off with SIGUSR2. The profile is
 * written to $BENCH_CPU_PROFILE (via a temp file and rename) when it is switched off.
 */
import fs from 'node:fs';
import { Session } from 'node:inspector/promises';
import { batchedConsoleLogger } from '@copilot/base/batched-log-sink';
import { startJobManager } from '@manager/job-manager/job-manager';
import { configFromValues, loadConfigValues } from '@manager/job-manager/manager-config';

const profilePath = process.env.BENCH_CPU_PROFILE;

let profiler: Session | undefined;
let profileIndex = 0;

async function toggleProfiler(): Promise<void> {
  if (!profilePath) return;
  if (!profiler) {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
    profiler = session;
    return;
  }
  const session = profiler;
  profiler = undefined;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  profileIndex += 1;
  const target = `${profilePath}.${profileIndex}.cpuprofile`;
  fs.writeFileSync(`${target}.partial`, JSON.stringify(profile));
  fs.renameSync(`${target}.partial`, target);
}

async function run(): Promise<void> {
  const loaded = loadConfigValues(process.argv.slice(2));
  const config = configFromValues(loaded.values);
  const logger = batchedConsoleLogger('jobmanager', 'info');
  const manager = await startJobManager(config, { logger });
  process.on('SIGUSR2', () => {
    toggleProfiler().catch((error: unknown) => {
      process.stderr.write(`profiler: ${String(error)}\n`);
    });
  });
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await manager.stop();
  process.exit(0);
}

run().catch((error: unknown) => {
  process.stderr.write(`bench manager: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

/**
 * The plain baseline, measured in this process in the same run as everything else: a fixed CPU
 * loop and an in-process encode/decode loop of the protocol codec. Other figures are also given
 * as ratios to these, which travel better between noisy machines than absolute numbers.
 */
import { decodeStanzaXml, encodeMessage, type CommandMessage } from '@copilot/protocol';

export interface BaselineResult {
  /** Milliseconds for the fixed loop (best of the repeats). */
  cpuLoopMs: number;
  cpuLoopIterations: number;
  /** encode + serialize + parse + decode of a runJob message, per second (best of repeats). */
  codecRoundTripsPerSecond: number;
  /** The same for a bare ack. */
  ackRoundTripsPerSecond: number;
}

const CPU_LOOP_ITERATIONS = 400_000_000;

/** A loop the JIT cannot drop: xorshift32 with its result used. */
function cpuLoop(iterations: number): number {
  let x = 2463534242;
  for (let i = 0; i < iterations; i += 1) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

export function sampleRunJob(index: number): CommandMessage {
  return {
    kind: 'command',
    to: `agent${index}@localhost/sim-${index}`,
    from: 'jobmanager@localhost/jm',
    id: `00000000-0000-4000-8000-${String(index).padStart(12, '0')}`,
    noack: false,
    command: {
      command: 'runJob',
      jmJobData: `startedAt=${index}`,
      job: {
        id: `job-${index}`,
        command: 'echo',
        arguments: 'hello world',
        environment: 'COPILOT_JOB=1',
        packages: '',
        inputFiles: '',
        chirpUrl: 'http://127.0.0.1:8088',
        inputDir: `/storage/input/job-${index}/0123456789abcdef`,
        outputDir: `/storage/output/job-${index}/fedcba9876543210`,
      },
    },
  };
}

function timeRoundTrips(makeText: (index: number) => string, durationMs: number): number {
  let count = 0;
  const started = performance.now();
  let now = started;
  while (now - started < durationMs) {
    for (let batch = 0; batch < 200; batch += 1) {
      const decoded = decodeStanzaXml(makeText(count));
      if (decoded.kind === 'bounce') throw new Error('unexpected bounce');
      count += 1;
    }
    now = performance.now();
  }
  return (count * 1000) / (now - started);
}

export function runBaseline(options: { quick: boolean }): BaselineResult {
  const repeats = options.quick ? 2 : 3;
  const durationMs = options.quick ? 500 : 1500;
  let cpuLoopMs = Number.POSITIVE_INFINITY;
  let sink = 0;
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    const started = performance.now();
    sink ^= cpuLoop(CPU_LOOP_ITERATIONS);
    cpuLoopMs = Math.min(cpuLoopMs, performance.now() - started);
  }
  if (sink === 0.5) process.stdout.write(''); // keeps the loop's result alive
  let codec = 0;
  let ack = 0;
  for (let repeat = 0; repeat < repeats; repeat += 1) {
    codec = Math.max(
      codec,
      timeRoundTrips((index) => encodeMessage(sampleRunJob(index)).toString(), durationMs),
    );
    ack = Math.max(
      ack,
      timeRoundTrips(
        (index) =>
          encodeMessage({
            kind: 'ack',
            to: 'jobmanager@localhost/jm',
            from: `agent${index}@localhost/sim`,
            ackedId: `id-${index}`,
          }).toString(),
        durationMs,
      ),
    );
  }
  return {
    cpuLoopMs,
    cpuLoopIterations: CPU_LOOP_ITERATIONS,
    codecRoundTripsPerSecond: codec,
    ackRoundTripsPerSecond: ack,
  };
}

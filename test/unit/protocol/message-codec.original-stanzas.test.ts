// The original Perl components' stanzas (test/fixtures/original, written from their source):
// the fake components used by the integration tests send exactly these, our codec reads them, and
// what our codec writes reads back the same through the original's decoding.
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseXml } from 'ltx';
import { describe, expect, it } from 'vitest';
import {
  decodeStanzaXml,
  encodeMessage,
  type Command,
  type CommandMessage,
} from '@copilot/protocol';
import { inputFileNames } from '@copilot/core/job-command';
import {
  perlAck,
  perlMessage,
  perlStanzaText,
  xmlNodeToHash,
} from '@test/fixtures/original/perl-wire';
import {
  ORIGINAL_AGENT,
  ORIGINAL_JM,
  ORIGINAL_JOB_ID,
  ORIGINAL_STANZAS,
} from '@test/fixtures/original/stanzas';

const DIR = path.join(__dirname, '../../fixtures/original/stanzas');

function fixture(name: string): string {
  return fs.readFileSync(path.join(DIR, `${name}.xml`), 'utf8').trimEnd();
}

function decoded(name: string): Command {
  const message = decodeStanzaXml(fixture(name));
  expect(message.kind).toBe('command');
  return (message as CommandMessage).command;
}

describe("the original components' stanzas", () => {
  it.each(Object.entries(ORIGINAL_STANZAS))('%s is what the fake components send', (name, s) => {
    expect(perlStanzaText(perlMessage(s.from, s.to, s.info, s.id))).toBe(fixture(name));
  });

  it('an ack has no body', () => {
    expect(fixture('ack')).toBe(
      perlStanzaText(perlAck(ORIGINAL_JM, ORIGINAL_AGENT, '47B06AEA-2222-4F41-BE1B-507DE80DE51C')),
    );
    expect(decodeStanzaXml(fixture('ack'))).toMatchObject({
      kind: 'ack',
      ackedId: '47B06AEA-2222-4F41-BE1B-507DE80DE51C',
    });
  });

  it('our codec reads the manager side: runJob without outputDir, empty values, ### lists', () => {
    const runJob = decoded('runJob');
    expect(runJob).toEqual({
      command: 'runJob',
      job: {
        id: ORIGINAL_JOB_ID,
        command: 'calculator.sh',
        arguments: '',
        environment: '',
        packages: '',
        inputFiles: '###calculator.sh',
        chirpUrl: 'cvmappi21.cern.ch',
        inputDir: ORIGINAL_JOB_ID,
        outputDir: '',
      },
      jmJobData: 'startedAt=1301066337####',
    });
    if (runJob.command === 'runJob') expect(inputFileNames(runJob.job)).toEqual(['calculator.sh']);
    expect(decoded('have_getJob')).toEqual({
      command: 'have_getJob',
      requireFile: '/cvmfs/sft.cern.ch',
    });
    expect(decoded('storeJobOutputDir')).toEqual({
      command: 'storeJobOutputDir',
      outputChirpUrl: 'cvmappi21.cern.ch:9094',
      outputDir: ORIGINAL_JOB_ID,
      jobID: ORIGINAL_JOB_ID,
    });
    expect(decoded('sleep')).toEqual({ command: 'sleep' });
  });

  it('our codec reads the agent side: state ready, agentIP todo, the JDL of listing 2.4', () => {
    expect(decoded('jobDone')).toEqual({
      command: 'jobDone',
      exitCode: 0,
      agentHost: 'cvmappi24.cern.ch',
      state: 'ready',
      jobID: ORIGINAL_JOB_ID,
      jmJobData: 'startedAt=1301066337####',
    });
    expect(decoded('want_getJobOutputDir')).toMatchObject({ agentIP: 'todo' });
    expect(decoded('getJob')).toMatchObject({ jdl: expect.stringContaining('Memory = 1010;') });
  });

  it("what we send decodes through the original's XMLNodeToHash", () => {
    const element = encodeMessage({
      kind: 'command',
      from: ORIGINAL_JM,
      to: ORIGINAL_AGENT,
      id: 'x1',
      noack: false,
      command: {
        command: 'storeJobOutputDir',
        outputChirpUrl: 'jm.example:9094',
        outputDir: '/job-1.abc/output',
        jobID: 'job-1',
      },
    });
    const info = parseXml(element.toString())?.getChild('body')?.getChild('info');
    if (!info) throw new Error('no <info>');
    expect(xmlNodeToHash(info)).toEqual({
      command: 'storeJobOutputDir',
      outputChirpUrl: 'jm.example:9094',
      outputDir: '/job-1.abc/output',
      jobID: 'job-1',
    });
  });
});

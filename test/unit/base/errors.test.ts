import { describe, expect, it } from 'vitest';
import {
  CopilotError,
  ERROR_CATALOGUE,
  errorMessage,
  errorReport,
  formatError,
  isExpectedError,
} from '@copilot/base/errors';
import { DockerUnavailableError } from '@copilot/core/docker-socket';
import { ClassAdError, ConfigError, JobFieldError, ProtocolError } from '@copilot/protocol';
import { XmppAuthError } from '@copilot/transport';
import { UsageError } from '@manager/bin/copilot-heartbeat';
import { JobQueueError } from '@manager/job-manager/job-queue';
import { JobRecordError } from '@manager/job-manager/job-record';
import { SubmitError } from '@manager/job-manager/job-submission';

describe('the error catalogue', () => {
  it('fills a code’s message template with the details, in order', () => {
    expect(formatError('XMPP_AUTH_REFUSED', 'volunteer@localhost')).toBe(
      'XMPP login refused for volunteer@localhost: wrong user name or password',
    );
    expect(formatError('DOCKER_UNAVAILABLE', 'connect ENOENT /var/run/docker.sock')).toBe(
      'Docker is not reachable: connect ENOENT /var/run/docker.sock',
    );
    expect(formatError('CONFIG_INVALID', 'AGENT_WORK_DIR must be set')).toBe(
      'AGENT_WORK_DIR must be set',
    );
  });

  it('gives every classified error its stable code and its class name', () => {
    const cases: Array<[CopilotError, string, string]> = [
      [new ConfigError('x', 'AGENT_WORK_DIR'), 'CONFIG_INVALID', 'ConfigError'],
      [new UsageError('x'), 'USAGE_INVALID', 'UsageError'],
      [new XmppAuthError('a@b'), 'XMPP_AUTH_REFUSED', 'XmppAuthError'],
      [new DockerUnavailableError('x'), 'DOCKER_UNAVAILABLE', 'DockerUnavailableError'],
      [new JobFieldError('x'), 'JOB_FIELD_INVALID', 'JobFieldError'],
      [new ClassAdError('x'), 'CLASSAD_INVALID', 'ClassAdError'],
      [new JobQueueError('x'), 'JOB_QUEUE_FAILED', 'JobQueueError'],
      [new JobRecordError('x'), 'JOB_RECORD_INVALID', 'JobRecordError'],
      [new SubmitError('x'), 'JOB_SUBMIT_REFUSED', 'SubmitError'],
    ];
    for (const [error, code, name] of cases) {
      expect(error).toBeInstanceOf(CopilotError);
      expect(error.code).toBe(code);
      expect(error.name).toBe(name);
      expect(Object.keys(ERROR_CATALOGUE)).toContain(code);
    }
  });

  it('lets ProtocolError keep its finer codes', () => {
    const error = new ProtocolError('malformed-xml', 'malformed XML: unclosed root element');
    expect(error).toBeInstanceOf(CopilotError);
    expect(error.code).toBe('malformed-xml');
    expect(isExpectedError(error)).toBe(false);
  });

  it('marks what is the user’s to fix as expected, and nothing else', () => {
    expect(isExpectedError(new ConfigError('AGENT_WORK_DIR must be set'))).toBe(true);
    expect(isExpectedError(new XmppAuthError('a@b'))).toBe(true);
    expect(isExpectedError(new DockerUnavailableError('connect ENOENT'))).toBe(true);
    expect(isExpectedError(new Error('bug'))).toBe(false);
    expect(isExpectedError(new TypeError('bug'))).toBe(false);
    expect(isExpectedError('a string')).toBe(false);
    expect(isExpectedError(undefined)).toBe(false);
  });
});

describe('errorMessage and errorReport', () => {
  it('errorMessage is the message of an Error and the text of anything else', () => {
    expect(errorMessage(new Error('boom'))).toBe('boom');
    expect(errorMessage('plain')).toBe('plain');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });

  it('errorReport prints an expected error as its message alone, anything else with its stack', () => {
    expect(errorReport(new ConfigError('JM_JABBER_ADDRESS must be set'))).toBe(
      'JM_JABBER_ADDRESS must be set',
    );
    const bug = new TypeError('cannot read properties of undefined');
    expect(errorReport(bug)).toBe(bug.stack);
    expect(errorReport(bug)).toMatch(/^TypeError: cannot read properties of undefined\n\s+at /);
    expect(errorReport('thrown text')).toBe('thrown text');
  });
});

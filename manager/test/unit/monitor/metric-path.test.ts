import { describe, expect, it } from 'vitest';
import { carbonLine, metricPath, sanitisePathComponent } from '@manager/monitor/metric-path';

describe('Graphite paths', () => {
  it('copilot.<component>.<event> as in section 2.3.2', () => {
    expect(metricPath('jobmanager.generic.alpha', 'job.succeeded')).toBe(
      'copilot.jobmanager.generic.alpha.job.succeeded',
    );
    expect(metricPath('jobmanager.generic.alpha', 'job.duration', 'gmean')).toBe(
      'copilot.jobmanager.generic.alpha.job.duration.gmean',
    );
  });

  it('sanitises path components: no spaces, slashes, traversal or empty parts', () => {
    expect(sanitisePathComponent('disk used /var')).toBe('disk_used_var');
    expect(sanitisePathComponent('')).toBe('_');
    expect(metricPath('agent', '../../etc/passwd')).toBe('copilot.agent._._etc_passwd');
    expect(metricPath('jm@xmpp.cern.ch/alpha', 'x')).toBe('copilot.jm_xmpp.cern.ch_alpha.x');
    expect(metricPath('a..b.', ' c d ')).toBe('copilot.a.b.c_d');
    expect(metricPath('agent', 'line\nbreak 1 2')).toBe('copilot.agent.line_break_1_2');
  });

  it('plaintext protocol line', () => {
    expect(
      carbonLine({ path: 'copilot.monitor.updates', value: 3, timestamp: 1_700_000_000.9 }),
    ).toBe('copilot.monitor.updates 3 1700000000\n');
    expect(carbonLine({ path: 'a', value: 0.1 + 0.2, timestamp: 1 })).toBe('a 0.3 1\n');
  });
});

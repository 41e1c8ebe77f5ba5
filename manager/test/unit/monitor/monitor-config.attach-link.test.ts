import { describe, expect, it } from 'vitest';
import { ConfigValues } from '@copilot/protocol';
import { monitorConfigFrom } from '@manager/monitor/monitor-config';

const base = {
  MON_JABBER_SERVER: 'xmpp.cern.ch',
  MON_JABBER_DOMAIN: 'xmpp.cern.ch',
  MON_JABBER_ID: 'monitor',
  MON_JABBER_PASSWORD: 'secret',
};
const config = (env: Record<string, string>) =>
  monitorConfigFrom(ConfigValues.from({ env: { ...base, ...env } }));

describe('monitor configuration: the attach link', () => {
  it('MON_ATTACH_LINK_FILE with the admin token, with no fleet console needed', () => {
    const result = config({
      MON_ATTACH_LINK_FILE: '/etc/copilot/project.copilot',
      MON_ADMIN_TOKEN_FILE: '/etc/copilot/admin-token',
    });
    expect(result.attachLink).toEqual({
      file: '/etc/copilot/project.copilot',
      adminTokenFile: '/etc/copilot/admin-token',
    });
    expect(result.console).toBeUndefined();
  });

  it('refuses the link without the admin token, and the token alone without a console', () => {
    expect(() => config({ MON_ATTACH_LINK_FILE: '/etc/copilot/project.copilot' })).toThrow(
      /MON_ATTACH_LINK_FILE needs MON_ADMIN_TOKEN_FILE/,
    );
    expect(() => config({ MON_ADMIN_TOKEN_FILE: '/etc/copilot/admin-token' })).toThrow(
      /MON_ADMIN_TOKEN_FILE needs the fleet console/,
    );
    expect(config({}).attachLink).toBeUndefined();
  });
});

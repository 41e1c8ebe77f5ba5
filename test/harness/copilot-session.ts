import { CopilotSession } from '@copilot/transport';
import type { ProsodyServer } from './prosody';

/**
 * A CopilotSession logged in to a harness Prosody with default options. It is added to
 * `opened` before it starts, so the test's afterAll stops it even when the login fails.
 */
export async function startSession(
  prosody: ProsodyServer,
  account: { username: string; password: string; resource: string },
  opened: CopilotSession[],
): Promise<CopilotSession> {
  const session = new CopilotSession({
    service: prosody.service,
    domain: prosody.domain,
    ...account,
  });
  opened.push(session);
  await session.start();
  return session;
}

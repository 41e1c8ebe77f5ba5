import { describe, expect, it } from 'vitest';
import { checkText } from '@copilot/contract/settings-checks';

describe('registry-list', () => {
  it.each(['127.0.0.1:5000', 'registry.example.org/cern/jobs', 'a.org b.org:443/x/', '[::1]:5000'])(
    'accepts %s',
    (value) => expect(checkText('registry-list', value)).toBeNull(),
  );

  it.each(['https://registry.example.org', 'Registry.org', 'a.org/../x', 'a.org;rm', 'a.org/X'])(
    'refuses %s',
    (value) => expect(checkText('registry-list', value)).toMatch(/registries/),
  );
});

import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTES } from '#functions/api/routes';
import { FUNCTIONS, functionSpec } from '#functions/manifest';

describe('function manifest', () => {
  it('names an existing entry file for every function, once', () => {
    for (const f of FUNCTIONS) expect(existsSync(f.entry), f.entry).toBe(true);
    expect(new Set(FUNCTIONS.map((f) => f.name)).size).toBe(FUNCTIONS.length);
  });

  it('serves every route with an API function', () => {
    for (const route of ROUTES) {
      expect(
        FUNCTIONS.some((f) => f.kind === 'api' && f.apiFunction === route.fn),
        route.path,
      ).toBe(true);
    }
    expect(functionSpec('api-jobs').needs.jobQueues).toEqual(['send']);
    expect(() => functionSpec('nope')).toThrow(/no function named nope/);
  });
});

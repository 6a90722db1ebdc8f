import { describe, expect, it } from 'vitest';
import { ConfigError, intEnv, listEnv, requireEnv } from '#shared/env';
import { describeError, redactingReplacer, redactString, registerSecret } from '#shared/telemetry';

describe('log redaction', () => {
  it('redacts values of secret-named keys but keeps fencing tokens', () => {
    const line = JSON.stringify(
      {
        headers: { 'x-api-key': 'abc', Authorization: 'Bearer z' },
        password: 'p',
        fencingToken: 3,
        enqueueToken: 1,
      },
      redactingReplacer,
    );
    expect(JSON.parse(line)).toEqual({
      headers: { 'x-api-key': '[REDACTED]', Authorization: '[REDACTED]' },
      password: '[REDACTED]',
      fencingToken: 3,
      enqueueToken: 1,
    });
  });

  it('redacts registered secret values wherever they appear, including a URL password', () => {
    registerSecret('ffclient_supersecretvalue');
    registerSecret('postgres://app:s3cr3t-pass@db.example:5432/ff');
    expect(redactString('key ffclient_supersecretvalue used')).toBe('key [REDACTED] used');
    expect(redactString('connect failed: password s3cr3t-pass rejected')).toBe(
      'connect failed: password [REDACTED] rejected',
    );
    expect(describeError(new Error('bad ffclient_supersecretvalue')).message).toBe('bad [REDACTED]');
    expect(describeError('plain').message).toBe('plain');
  });
});

describe('environment parsing', () => {
  it('names every missing variable at once', () => {
    expect(() => requireEnv({ A: 'x' }, ['A', 'B', 'C'])).toThrow(
      new ConfigError('missing required environment variable(s): B, C'),
    );
    expect(requireEnv({ A: 'x' }, ['A'])).toEqual({ A: 'x' });
  });

  it('parses integers and lists strictly', () => {
    expect(intEnv({}, 'N', 5)).toBe(5);
    expect(intEnv({ N: '7' }, 'N', 5)).toBe(7);
    expect(() => intEnv({ N: 'seven' }, 'N', 5)).toThrow(/N must be an integer/);
    expect(listEnv({ L: ' a, ,b ' }, 'L')).toEqual(['a', 'b']);
  });
});

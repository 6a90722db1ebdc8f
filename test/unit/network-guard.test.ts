/**
 * The network guard's decisions, without a browser: which addresses are refused (every special-purpose range,
 * however the address is written), which URLs a definition may open, what the ledger and the logs keep of a
 * refusal, and the environment that configures it (never open in Lambda).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classify } from '#functions/worker/form-engine';
import {
  blockedKind,
  checkNavigation,
  describeRefusal,
  NetworkGuard,
  networkGuardFromEnv,
  originKey,
  refusalEvidence,
  targetOrigin,
} from '#functions/worker/network-guard';
import { BROWSER_NETWORK } from '#policy';
import { ConfigError } from '#shared/env';

describe('blockedKind', () => {
  it('refuses each address the issue names, and says what it is', () => {
    const cases: Record<string, RegExp> = {
      '127.0.0.1': /loopback/,
      '127.255.255.254': /loopback/,
      '169.254.169.254': /link-local/,
      '169.254.170.2': /link-local/,
      '10.0.0.1': /private/,
      '172.16.0.1': /private/,
      '172.31.255.255': /private/,
      '192.168.1.1': /private/,
      '100.64.0.1': /CGNAT/,
      '100.127.255.255': /CGNAT/,
      '0.0.0.0': /this-network/,
      '0.1.2.3': /this-network/,
      '224.0.0.1': /multicast/,
      '255.255.255.255': /reserved/,
      '::1': /loopback/,
      '::': /unspecified/,
      'fc00::1': /unique local/,
      'fd00:ec2::254': /unique local/,
      'fe80::1': /link-local/,
      'fe80::1%eth0': /link-local/,
      'ff02::1': /multicast/,
      // IPv4-mapped and NAT64 addresses are judged by the IPv4 address they carry.
      '::ffff:127.0.0.1': /loopback/,
      '::ffff:7f00:1': /loopback/,
      '::ffff:169.254.169.254': /link-local/,
      '::ffff:a00:1': /private/,
      '64:ff9b::a9fe:a9fe': /link-local/,
      '64:ff9b::127.0.0.1': /loopback/,
      '::127.0.0.1': /IPv4-compatible/,
      '2002:7f00:1::': /6to4/,
      '2001:0:4136:e378::': /Teredo/,
    };
    for (const [address, kind] of Object.entries(cases))
      expect({ address, kind: blockedKind(address) }).toEqual({ address, kind: expect.stringMatching(kind) });
  });

  it('lets public addresses through, written any way', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '172.32.0.1',
      '100.128.0.1',
      '169.255.0.1',
      '2606:4700:4700::1111',
      '2a00:1450:4001:82b::200e',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      expect({ address, kind: blockedKind(address) }).toEqual({ address, kind: undefined });
    }
    expect(blockedKind('not-an-ip')).toBe('not an IP address');
  });

  it('judges an IPv4 address the same in its IPv4-mapped and NAT64 forms (property)', () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const [a, b, c, d] = v4.split('.').map(Number) as [number, number, number, number];
        const hex = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
        const kind = blockedKind(v4);
        expect(blockedKind(`::ffff:${v4}`)).toBe(kind);
        expect(blockedKind(`::ffff:${hex}`)).toBe(kind);
        expect(blockedKind(`64:ff9b::${hex}`)).toBe(kind);
      }),
    );
  });

  it('refuses every address inside every range of the policy (property)', () => {
    const inRange = BROWSER_NETWORK.blockedIpv4.map((range) => {
      const [network = '', bits = '0'] = range.cidr.split('/');
      const base = network.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
      const size = 2 ** (32 - Number(bits));
      return fc.integer({ min: 0, max: size - 1 }).map((offset) => {
        const n = base + offset;
        return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
      });
    });
    fc.assert(
      fc.property(fc.oneof(...inRange), (address) => {
        expect(blockedKind(address)).toBeDefined();
      }),
    );
  });
});

describe('checkNavigation', () => {
  it('lets a definition open http(s) only', () => {
    expect(checkNavigation('https://directory.example/add')).toBeUndefined();
    expect(checkNavigation('http://127.0.0.1:8080/add')).toBeUndefined();
    for (const url of [
      'file:///etc/passwd',
      'chrome://version',
      'data:text/html,hi',
      'javascript:alert(1)',
      'ftp://x.test/',
      'view-source:http://x.test',
    ]) {
      expect({ url, refused: checkNavigation(url) }).toEqual({
        url,
        refused: expect.stringMatching(/^a [a-z-]+: URL \(only http: and https: may be opened\)$/),
      });
    }
    expect(checkNavigation('not a url')).toBe('not a URL');
  });
});

describe('what a refusal leaves behind', () => {
  it('keeps no query, fragment or data: content in the ledger, and bounds the list', () => {
    const attempt = { target: 'http://127.0.0.1:9001/leak?email=owner%40x.test#frag', reason: 'loopback' };
    expect(describeRefusal(attempt)).toBe(
      'the page tried to reach http://127.0.0.1:9001/leak (loopback); refused, nothing was sent there',
    );
    expect(describeRefusal({ target: 'data:text/html,<b>Owner Name</b>', reason: 'scheme data:' })).toBe(
      'the page tried to reach data:text/html,… (scheme data:); refused, nothing was sent there',
    );
    const many = Array.from({ length: 25 }, (_, i) => ({ target: `10.0.0.${i}:443`, reason: 'private' }));
    const evidence = refusalEvidence(many);
    expect(evidence.blocked).toHaveLength(BROWSER_NETWORK.evidenceMaxAttempts);
    expect(evidence.blockedMore).toBe(25 - BROWSER_NETWORK.evidenceMaxAttempts);
  });

  it('logs only where an attempt went, never its path or query', () => {
    expect(targetOrigin('http://169.254.169.254/latest/meta-data/?x=1')).toBe('http://169.254.169.254');
    expect(targetOrigin('127.0.0.1:9001')).toBe('127.0.0.1:9001');
    expect(targetOrigin('file:///home/owner/secrets.txt')).toBe('file:');
    expect(targetOrigin('data:text/html,owner')).toBe('data:');
  });

  it('classifies Chromium refusing a redirect to a file as a blocked destination, never retried', () => {
    expect(classify(new Error('page.goto: net::ERR_UNSAFE_REDIRECT at http://x.test/add'))).toMatchObject({
      errorClass: 'blocked_destination',
      transient: false,
    });
    expect(
      classify(new Error('page.goto: net::ERR_TUNNEL_CONNECTION_FAILED at https://x.test/')),
    ).toMatchObject({ errorClass: 'site_down', transient: true });
  });
});

describe('the guard from the environment', () => {
  it('opens nothing unless the local runtime names origins, and refuses that in Lambda', async () => {
    const strict = networkGuardFromEnv({});
    expect(await strict.admit('127.0.0.1', 9001)).toEqual({ refused: 'loopback' });
    const local = networkGuardFromEnv({
      BROWSER_ALLOWED_ORIGINS: 'http://127.0.0.1:4001, http://127.0.0.1:4002',
    });
    expect(await local.admit('127.0.0.1', 4002)).toEqual({ address: '127.0.0.1' });
    // Only those origins: another loopback port stands for the runtime API and stays refused.
    expect(await local.admit('127.0.0.1', 9001)).toEqual({ refused: 'loopback' });
    expect(() =>
      networkGuardFromEnv({
        BROWSER_ALLOWED_ORIGINS: 'http://127.0.0.1:4001',
        AWS_LAMBDA_FUNCTION_NAME: 'worker',
      }),
    ).toThrow(ConfigError);
    expect(() => networkGuardFromEnv({ BROWSER_ALLOWED_ORIGINS: 'file:///tmp, 127.0.0.1:80' })).toThrow(
      /must list http\(s\) origins \(got file:\/\/\/tmp, 127.0.0.1:80\)/,
    );
  });

  it('keys origins by host and port as the browser asks for them', () => {
    expect(originKey('http://127.0.0.1:8080')).toBe('127.0.0.1:8080');
    expect(originKey('https://Directory.Example')).toBe('directory.example:443');
    expect(originKey('http://[::1]:81/')).toBe('::1:81');
  });
});

describe('admission', () => {
  it('resolves names itself and refuses a name if any of its addresses is refused', async () => {
    const answers: Record<string, string[]> = {
      'metadata.attacker.test': ['169.254.169.254'],
      'mixed.attacker.test': ['93.184.216.34', '10.1.2.3'],
      'v6.attacker.test': ['::ffff:127.0.0.1'],
      'public.example.test': ['2606:2800:220:1::', '93.184.216.34'],
      'v6only.example.test': ['2606:2800:220:1::'],
    };
    const guard = new NetworkGuard({ resolve: async (host) => answers[host] ?? [] });
    expect(await guard.admit('metadata.attacker.test', 80)).toEqual({
      refused: 'resolves to 169.254.169.254, link-local (cloud metadata and credentials)',
    });
    expect(await guard.admit('mixed.attacker.test', 443)).toEqual({
      refused: 'resolves to 10.1.2.3, private',
    });
    expect(await guard.admit('v6.attacker.test', 443)).toEqual({
      refused: 'resolves to ::ffff:127.0.0.1, loopback',
    });
    // Every address checked; IPv4 preferred to connect to.
    expect(await guard.admit('public.example.test', 443)).toEqual({ address: '93.184.216.34' });
    expect(await guard.admit('v6only.example.test', 443)).toEqual({ address: '2606:2800:220:1::' });
    expect(await guard.admit('[::1]', 443)).toEqual({ refused: 'loopback' });
    expect(await guard.admit('nowhere.test', 80)).toEqual({ failed: 'nowhere.test does not resolve' });
    expect(await guard.admit('public.example.test', 0)).toEqual({ refused: 'port 0' });
  });
});

/**
 * The pure parts of e-mail verification: the alias (random, unguessable, read back only on our domain), the
 * link finder (only a link matching the definition and on its host is ever returned to visit), and the
 * definition's emailMode / verification fields as the one validator refuses them.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { aliasAddress, aliasOf, newAlias, onDomain } from '#functions/mail/alias';
import { findVerificationLink, linksOf } from '#functions/mail/links';
import { DefinitionError, parseFormDefinition } from '#functions/worker/form-definition';
import { verifyingSite } from '#local/fixtures/mail-sites';
import { MAIL } from '#policy';

const DOMAIN = 'inbound.example.test';

describe('mail aliases', () => {
  it('are 128 random bits in lower-case base32, read back from their address and only on our domain', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1_000; i++) {
      const alias = newAlias();
      expect(alias).toMatch(/^[a-z2-7]{26}$/);
      seen.add(alias);
      const address = aliasAddress(alias, DOMAIN);
      expect(aliasOf(address, DOMAIN)).toBe(alias);
      expect(aliasOf(address.toUpperCase(), DOMAIN)).toBe(alias);
      expect(aliasOf(address, 'other.example.test')).toBeUndefined();
      expect(aliasOf(`x${address}`, DOMAIN)).toBeUndefined();
    }
    expect(seen.size).toBe(1_000);
    expect(MAIL.aliasBytes * 8).toBe(128);
  });

  it('refuse anything that is not an alias address', () => {
    fc.assert(
      fc.property(fc.string(), (local) => {
        const alias = aliasOf(`${local}@${DOMAIN}`, DOMAIN);
        if (alias !== undefined) expect(`${local}`.toLowerCase()).toBe(`${MAIL.aliasPrefix}${alias}`);
      }),
    );
    expect(aliasOf(`v-abc@${DOMAIN}`, DOMAIN)).toBeUndefined();
    expect(aliasOf('no-at-sign', DOMAIN)).toBeUndefined();
    expect(onDomain(`a@${DOMAIN.toUpperCase()}`, DOMAIN)).toBe(true);
    expect(onDomain(`a@evil${DOMAIN}`, DOMAIN)).toBe(false);
  });
});

describe('the verification link', () => {
  const verification = { link: '/confirm\\?token=[0-9a-f]+$', linkHost: 'directory.example' };

  it('is the first link matching the pattern on the allowed host, from HTML (entities decoded) or text', () => {
    const html = `<a href="https://directory.example/unsubscribe">x</a>
      <a href='https://directory.example/confirm?token=abc1&amp;'>no</a>
      <a href="https://directory.example/confirm?token=abc123">confirm</a>`;
    const found = findVerificationLink({ html, text: '' }, verification, 200);
    expect(found).toEqual({ kind: 'ok', url: new URL('https://directory.example/confirm?token=abc123') });
    const inText = findVerificationLink(
      { html: '', text: 'Open https://directory.example/confirm?token=ff00.' },
      verification,
      200,
    );
    expect(inText.kind === 'ok' && inText.url.href).toBe('https://directory.example/confirm?token=ff00');
  });

  it('never returns a link on another host, a non-web scheme, or past the link budget', () => {
    expect(
      findVerificationLink(
        { html: '<a href="https://directory.example.evil.test/confirm?token=ab">x</a>', text: '' },
        verification,
        200,
      ),
    ).toEqual({ kind: 'other_host', host: 'directory.example.evil.test' });
    expect(
      findVerificationLink(
        { html: '<a href="https://user@evil.test/confirm?token=ab">x</a>', text: '' },
        verification,
        200,
      ),
    ).toEqual({ kind: 'other_host', host: 'evil.test' });
    expect(
      findVerificationLink(
        { html: '<a href="javascript:alert(1)//confirm?token=ab">x</a>', text: '' },
        verification,
        200,
      ),
    ).toEqual({ kind: 'none' });
    const many = `${'<a href="https://directory.example/x">x</a>'.repeat(3)}<a href="https://directory.example/confirm?token=ab">y</a>`;
    expect(findVerificationLink({ html: many, text: '' }, verification, 3)).toEqual({ kind: 'none' });
    expect(linksOf({ html: many, text: '' }, 3)).toHaveLength(3);
  });

  it('returns a link only on the allowed host, whatever the mail holds', () => {
    fc.assert(
      fc.property(fc.array(fc.webUrl(), { maxLength: 8 }), fc.string(), (urls, text) => {
        const found = findVerificationLink(
          { html: urls.map((u) => `<a href="${u}">l</a>`).join(''), text },
          { link: '.', linkHost: 'directory.example' },
          MAIL.maxLinks,
        );
        if (found.kind === 'ok') expect(found.url.host).toBe('directory.example');
      }),
    );
  });
});

describe('emailMode and verification in a definition', () => {
  const base = () =>
    verifyingSite({ smtp: { host: '127.0.0.1', port: 9 } }).definition(
      'http://127.0.0.1:9',
    ) as unknown as Record<string, unknown>;
  const refused = (raw: unknown) => {
    try {
      parseFormDefinition(raw);
    } catch (err) {
      if (err instanceof DefinitionError) return err.message;
      throw err;
    }
    return undefined;
  };

  it('accepts the fixture site’s, with host:port and the confirmed state', () => {
    expect(parseFormDefinition(base())).toMatchObject({
      emailMode: 'alias',
      verification: { linkHost: '127.0.0.1:9' },
    });
    const live = { ...base(), verification: { ...(base().verification as object), confirmedState: 'live' } };
    expect(refused(live)).toBeUndefined();
  });

  it('refuses verification without the alias, without from or subject, or with a bad host, naming the field', () => {
    const { emailMode: _, ...customer } = base();
    expect(refused(customer)).toMatch(/^definition\.emailMode: must be alias with verification/);
    expect(refused({ ...base(), emailMode: 'customer' })).toMatch(/^definition\.emailMode:/);
    const v = base().verification as Record<string, unknown>;
    const { from: _f, subject: _s, ...anonymous } = v;
    expect(refused({ ...base(), verification: anonymous })).toMatch(
      /^definition\.verification: verification needs from or subject/,
    );
    expect(refused({ ...base(), verification: { ...v, linkHost: 'https://x.test/' } })).toMatch(
      /^definition\.verification\.linkHost:/,
    );
    expect(refused({ ...base(), verification: { ...v, link: '(' } })).toMatch(
      /^definition\.verification\.link:/,
    );
    expect(refused({ ...base(), verification: { ...v, confirmedState: 'rejected' } })).toMatch(
      /^definition\.verification\.confirmedState:/,
    );
    expect(refused({ ...base(), emailMode: 'forward' })).toMatch(/^definition\.emailMode:/);
    const { verification: _v, ...aliasOnly } = base();
    expect(refused(aliasOnly)).toBeUndefined();
  });
});

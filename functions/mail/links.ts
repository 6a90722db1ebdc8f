/**
 * The verification link of a mail, by the definition: every link in the mail (HTML hrefs, then bare URLs in
 * the text), at most `maxLinks`, those matching `verification.link`, and of those the first on
 * `verification.linkHost` (http(s) only). A matching link on another host is reported, never returned to
 * visit: a mail is untrusted input and may aim the browser anywhere.
 */
import type { MailVerification } from '#functions/worker/form-definition';

export type FoundLink = { kind: 'ok'; url: URL } | { kind: 'other_host'; host: string } | { kind: 'none' };

const HREF = /\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
const BARE_URL = /\bhttps?:\/\/[^\s<>"'()[\]{}]+/gi;

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const decodeEntities = (s: string) =>
  s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1));
      return Number.isFinite(code) && code > 0 && code < 0x110000 ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });

/** Every link of the mail, in order, at most `max`. */
export function linksOf(body: { html: string; text: string }, max: number): string[] {
  const links: string[] = [];
  for (const m of body.html.matchAll(HREF)) {
    if (links.length >= max) return links;
    links.push(decodeEntities((m[1] ?? m[2] ?? m[3] ?? '').trim()));
  }
  for (const m of body.text.matchAll(BARE_URL)) {
    if (links.length >= max) return links;
    links.push(m[0].replace(/[.,;:!?]+$/, ''));
  }
  return links;
}

export function findVerificationLink(
  body: { html: string; text: string },
  verification: Pick<MailVerification, 'link' | 'linkHost'>,
  maxLinks: number,
): FoundLink {
  const pattern = new RegExp(verification.link);
  const host = verification.linkHost.toLowerCase();
  let elsewhere: string | undefined;
  for (const candidate of linksOf(body, maxLinks)) {
    if (!pattern.test(candidate)) continue;
    let url: URL;
    try {
      url = new URL(candidate);
    } catch {
      continue;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') continue;
    if (url.host.toLowerCase() === host) return { kind: 'ok', url };
    elsewhere ??= url.host;
  }
  return elsewhere === undefined ? { kind: 'none' } : { kind: 'other_host', host: elsewhere };
}

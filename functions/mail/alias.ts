/**
 * The per-job address a definition with `emailMode: 'alias'` types for the profile's e-mail:
 * `<MAIL.aliasPrefix><alias>@<inboundMailDomain>`, the alias 128 random bits in lower-case base32, so it
 * cannot be guessed or enumerated, and kept per (job, directory) in mail_aliases (mail-store.ts).
 */
import { randomBytes } from 'node:crypto';
import { MAIL } from '#policy';

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/** A fresh alias: MAIL.aliasBytes random bytes in lower-case base32 (RFC 4648 alphabet, no padding). */
export function newAlias(bytes: number = MAIL.aliasBytes): string {
  const buf = randomBytes(bytes);
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of buf) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** The address the worker types for `alias`. */
export const aliasAddress = (alias: string, domain: string) => `${MAIL.aliasPrefix}${alias}@${domain}`;

const ALIAS_LOCAL = /^[a-z2-7]{16,64}$/;

/**
 * The alias an address on `domain` names (case-insensitive, as mail systems treat domains and most treat
 * local parts), or undefined when the address is on another domain or is not an alias.
 */
export function aliasOf(address: string, domain: string): string | undefined {
  const at = address.lastIndexOf('@');
  if (at < 0) return undefined;
  const local = address.slice(0, at).toLowerCase();
  if (address.slice(at + 1).toLowerCase() !== domain.toLowerCase()) return undefined;
  if (!local.startsWith(MAIL.aliasPrefix)) return undefined;
  const alias = local.slice(MAIL.aliasPrefix.length);
  return ALIAS_LOCAL.test(alias) ? alias : undefined;
}

/** Whether `address` is on `domain`. */
export const onDomain = (address: string, domain: string) =>
  address.toLowerCase().endsWith(`@${domain.toLowerCase()}`);

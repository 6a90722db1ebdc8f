/**
 * Keeps profile data out of the worker's logs. Log lines carry job and directory ids; but an error message
 * from the browser can quote a URL or a value typed into the page (a verification URL holds the business
 * name), so every message is scrubbed of the profile's values, plain and URL-encoded, before it is logged.
 */
import { PROFILE_FIELDS, type Profile } from '#shared/customer-store';

const PLACEHOLDER = '[PROFILE]';
/** Shorter values (a two-letter state) would shred ordinary words; they identify nobody on their own. */
const MIN_LENGTH = 4;

export function scrubProfile(text: string, profile: Partial<Profile> | undefined): string {
  if (!profile) return text;
  const values = new Set<string>();
  for (const field of PROFILE_FIELDS) {
    const value = profile[field];
    if (typeof value !== 'string' || value.length < MIN_LENGTH) continue;
    values.add(value);
    values.add(encodeURIComponent(value));
    values.add(new URLSearchParams({ v: value }).toString().slice(2));
  }
  let out = text;
  // Longest first, so a value containing another is replaced whole.
  for (const value of [...values].sort((a, b) => b.length - a.length)) {
    if (out.includes(value)) out = out.split(value).join(PLACEHOLDER);
  }
  return out;
}

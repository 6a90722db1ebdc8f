/**
 * Copies of fixture site variants under distinct ids (each copy its own origin, as distinct directories
 * are), for load tests and benchmarks that need many sites: politeness allows one visit per site at a time.
 */
import type { FixtureVariant } from '#local/fixtures/sites';

/** `copies` copies of each variant, ids suffixed `-c<n>`, grouped by copy: result[n] is copy n's sites. */
export function siteCopies(variants: readonly FixtureVariant[], copies: number): FixtureVariant[][] {
  return Array.from({ length: copies }, (_, n) => variants.map((v) => ({ ...v, id: `${v.id}-c${n}` })));
}

/** The variant a copy was made from ('simple-form-c3' → 'simple-form'). */
export const baseId = (id: string) => id.replace(/-c\d+$/, '');

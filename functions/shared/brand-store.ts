/**
 * White label per API key (sql/106_key_brands.sql): the display name and logo a key's customers see on their
 * reports. Set by an admin (PUT /v1/keys/{id}/brand); a key without one reports under formfleet's own name.
 */
import type { Sql } from '#shared/db';

export interface Brand {
  keyId: string;
  displayName: string;
  logoUrl: string | null;
}

export interface BrandStore {
  get(keyId: string): Promise<Brand | undefined>;
  put(brand: Brand): Promise<Brand>;
}

export class PgBrandStore implements BrandStore {
  constructor(private readonly sql: Pick<Sql, 'query'>) {}

  async get(keyId: string): Promise<Brand | undefined> {
    const { rows } = await this.sql.query<{ key_id: string; display_name: string; logo_url: string | null }>(
      'SELECT key_id, display_name, logo_url FROM key_brands WHERE key_id = $1',
      [keyId],
    );
    const r = rows[0];
    return r ? { keyId: r.key_id, displayName: r.display_name, logoUrl: r.logo_url } : undefined;
  }

  async put(brand: Brand): Promise<Brand> {
    await this.sql.query(
      `INSERT INTO key_brands (key_id, display_name, logo_url) VALUES ($1, $2, $3)
       ON CONFLICT (key_id) DO UPDATE SET display_name = EXCLUDED.display_name, logo_url = EXCLUDED.logo_url,
              updated_at = now()`,
      [brand.keyId, brand.displayName, brand.logoUrl],
    );
    return brand;
  }
}

/** Customers: the business profiles jobs submit, each owned by the API key that created it. */
import type { Sql } from '#shared/db';
import type { MediaRef } from '#shared/media';

export const PROFILE_FIELDS = [
  'name',
  'email',
  'phone',
  'website',
  'address',
  'city',
  'state',
  'zip',
  'category',
  'description',
] as const;

export type ProfileField = (typeof PROFILE_FIELDS)[number];

/** The business profile a form is filled from. `name` and `email` are required; the rest may be null. */
export type Profile = { name: string; email: string } & {
  [K in Exclude<ProfileField, 'name' | 'email'>]: string | null;
};

export interface Customer extends Profile {
  id: string;
  ownerKeyId: string;
  /** The ready image the profile's logo is (POST /v1/customers/{id}/media), or none. */
  logo: MediaRef | null;
  createdAt: string;
  updatedAt: string;
}

export interface CustomerStore {
  create(ownerKeyId: string, profile: Profile): Promise<Customer>;
  get(id: string): Promise<Customer | undefined>;
  update(id: string, changes: Partial<Profile>): Promise<Customer | undefined>;
}

interface CustomerRow extends Profile {
  id: string;
  owner_key_id: string;
  logo: { id: string; content_type: MediaRef['contentType']; size_bytes: number; sha256: string } | null;
  created_at: Date;
  updated_at: Date;
}

/** The logo as the row's one JSON value (the ready image logo_media_id names; sql/108). */
const LOGO = `(SELECT jsonb_build_object('id', m.id, 'content_type', m.content_type, 'size_bytes', m.size_bytes,
  'sha256', m.sha256) FROM customer_media m WHERE m.id = customers.logo_media_id AND m.status = 'ready') AS logo`;
const COLUMNS = `id, owner_key_id, ${PROFILE_FIELDS.join(', ')}, ${LOGO}, created_at, updated_at`;

function toCustomer(row: CustomerRow): Customer {
  const profile = Object.fromEntries(PROFILE_FIELDS.map((f) => [f, row[f] ?? null])) as Profile;
  return {
    id: row.id,
    ownerKeyId: row.owner_key_id,
    ...profile,
    logo: row.logo
      ? {
          id: row.logo.id,
          contentType: row.logo.content_type,
          sizeBytes: Number(row.logo.size_bytes),
          sha256: row.logo.sha256,
        }
      : null,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: string) => UUID.test(value);

export class PgCustomerStore implements CustomerStore {
  constructor(private readonly sql: Sql) {}

  async create(ownerKeyId: string, profile: Profile): Promise<Customer> {
    const values = PROFILE_FIELDS.map((f) => profile[f] ?? null);
    const placeholders = PROFILE_FIELDS.map((_, i) => `$${i + 2}`).join(', ');
    const { rows } = await this.sql.query<CustomerRow>(
      `INSERT INTO customers (owner_key_id, ${PROFILE_FIELDS.join(', ')}) VALUES ($1, ${placeholders})
       RETURNING ${COLUMNS}`,
      [ownerKeyId, ...values],
    );
    return toCustomer(rows[0] as CustomerRow);
  }

  async get(id: string): Promise<Customer | undefined> {
    if (!isUuid(id)) return undefined;
    const { rows } = await this.sql.query<CustomerRow>(`SELECT ${COLUMNS} FROM customers WHERE id = $1`, [
      id,
    ]);
    return rows[0] ? toCustomer(rows[0]) : undefined;
  }

  async update(id: string, changes: Partial<Profile>): Promise<Customer | undefined> {
    if (!isUuid(id)) return undefined;
    const fields = PROFILE_FIELDS.filter((f) => changes[f] !== undefined);
    if (fields.length === 0) return this.get(id);
    const sets = fields.map((f, i) => `${f} = $${i + 2}`).join(', ');
    const { rows } = await this.sql.query<CustomerRow>(
      `UPDATE customers SET ${sets} WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, ...fields.map((f) => changes[f])],
    );
    return rows[0] ? toCustomer(rows[0]) : undefined;
  }
}

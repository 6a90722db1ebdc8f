/**
 * Demo data for the local runtime: a directory row for every fixture site (pointing at the port it runs on
 * this time) and a few demo businesses owned by the local client key, so the banner's curl and `npm run
 * demo` have something to submit. Idempotent: directories are upserted (their sites move every start);
 * customers have fixed ids and are inserted only when missing, so a profile someone edited stays edited.
 */
import type { Sql } from '#shared/db';
import { PgDirectoryStore } from '#shared/directory-store';
import { CLIENT_KEY_ID } from './api-keys.ts';
import type { FixtureSites } from './fixtures/sites.ts';

export interface DemoCustomer {
  id: string;
  name: string;
  email: string;
  phone: string;
  website: string;
  address: string;
  city: string;
  state: string;
  zip: string;
  category: string;
  description: string;
}

/**
 * Three businesses. Two sit outside the West Coast fixture's service area (ZIP 90000-96199), one inside, and
 * the dentist's category has no option on the Choices fixture (nothing maps it or is similar enough), so that
 * directory hands the dentist to a person (needs_manual, category_unmapped) and lists the others, as real
 * directories do. Categories are taxonomy ids (functions/shared/categories.ts), as the API stores them.
 */
export const DEMO_CUSTOMERS: readonly DemoCustomer[] = [
  {
    id: '00000000-0000-4000-8000-00000000a001',
    name: 'Acme Plumbing',
    email: 'owner@acme-plumbing.test',
    phone: '+1 217 555 0100',
    website: 'https://acme-plumbing.test',
    address: '12 Main Street',
    city: 'Springfield',
    state: 'IL',
    zip: '62701',
    category: 'plumbing',
    description: 'Family plumbers since 1982: repairs, boilers and bathrooms, seven days a week.',
  },
  {
    id: '00000000-0000-4000-8000-00000000a002',
    name: 'Golden Gate Bakery',
    email: 'hello@goldengate-bakery.test',
    phone: '+1 415 555 0142',
    website: 'https://goldengate-bakery.test',
    address: '1029 Grant Avenue',
    city: 'San Francisco',
    state: 'CA',
    zip: '94133',
    category: 'restaurant',
    description: 'Sourdough, egg tarts and celebration cakes baked fresh every morning.',
  },
  {
    id: '00000000-0000-4000-8000-00000000a003',
    name: 'Northside Dental',
    email: 'front-desk@northside-dental.test',
    phone: '+1 312 555 0177',
    website: 'https://northside-dental.test',
    address: '400 North Clark Street',
    city: 'Chicago',
    state: 'IL',
    zip: '60654',
    category: 'dentist',
    description: 'General and cosmetic dentistry with evening appointments.',
  },
];

/**
 * Fixture directories a demo workload leaves out: the hanging site never answers, so every visit costs the
 * worker's full step timeout and retries (the worker tests cover it).
 */
export const DEMO_EXCLUDED_DIRECTORIES: readonly string[] = ['hanging-site'];

export interface SeedReport {
  directories: number;
  /** Demo customers inserted now (0 when they were all there already). */
  customersAdded: number;
}

export async function seedDemoData(sql: Sql, fixtures: FixtureSites): Promise<SeedReport> {
  const store = new PgDirectoryStore(sql);
  const directories = fixtures.directories();
  for (const directory of directories) await store.upsert(directory);
  let customersAdded = 0;
  for (const c of DEMO_CUSTOMERS) {
    const { rowCount } = await sql.query(
      `INSERT INTO customers (id, owner_key_id, name, email, phone, website, address, city, state, zip,
                              category, description)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (id) DO NOTHING`,
      [
        c.id,
        CLIENT_KEY_ID,
        c.name,
        c.email,
        c.phone,
        c.website,
        c.address,
        c.city,
        c.state,
        c.zip,
        c.category,
        c.description,
      ],
    );
    customersAdded += rowCount ?? 0;
  }
  return { directories: directories.length, customersAdded };
}

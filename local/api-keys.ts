/**
 * The local runtime's API keys. As in API Gateway, a key has a secret value (what clients send in x-api-key)
 * and an id (what handlers see and authorise on). Two keys are built in: the admin key and the demo client
 * key, whose ids are fixed, so rows created under them (the demo customers) stay owned by them across
 * restarts whatever their values; the values come from the environment or are generated.
 *
 * Client keys made through the API (POST /v1/keys) live in the key table, the local stand-in for API
 * Gateway's keys and usage-plan keys: kept in a file (`.formfleet/api-keys.json` for `npm start`), so they
 * survive a restart. The file holds each key's id, name, plan and a SHA-256 of its value, never the value.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { ClientKey, ClientKeyStore, CreatedClientKey } from '#functions/api/keys';
import { CLIENT_KEYS } from '#policy';

export const ADMIN_KEY_ID = 'local-admin';
export const CLIENT_KEY_ID = 'local-client';

/** A fresh key value: a readable prefix and 144 random bits. */
export const generateKey = (prefix: string) => `${prefix}_${randomBytes(18).toString('base64url')}`;

/** What the local gateway asks of its key store: the id of a key value, as API Gateway validates x-api-key. */
export interface ApiKeyLookup {
  get(value: string): string | undefined;
}

interface StoredKey extends ClientKey {
  /** SHA-256 of the value, hex. */
  sha256: string;
}

const digest = (value: string) => createHash('sha256').update(value).digest('hex');

export interface KeyTableOptions {
  /** The built-in keys: value → id (admin, demo client, test keys). */
  builtIn: ReadonlyMap<string, string>;
  /** Where created keys are kept; without one they last as long as the process. */
  file?: string;
}

export class LocalKeyTable implements ClientKeyStore, ApiKeyLookup {
  private constructor(
    private readonly builtIn: ReadonlyMap<string, string>,
    private readonly file: string | undefined,
    private keys: StoredKey[],
  ) {}

  /** Opens the table, reading the file when it exists; a file it cannot read is an error, never a reset. */
  static async open(options: KeyTableOptions): Promise<LocalKeyTable> {
    let keys: StoredKey[] = [];
    if (options.file) {
      const text = await readFile(options.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw err;
      });
      if (text !== undefined) keys = parseKeyFile(text, options.file);
    }
    return new LocalKeyTable(options.builtIn, options.file, keys);
  }

  get(value: string): string | undefined {
    const builtIn = this.builtIn.get(value);
    if (builtIn) return builtIn;
    const hash = digest(value);
    return this.keys.find((k) => k.sha256 === hash)?.id;
  }

  async create(input: { name: string; plan: string }): Promise<CreatedClientKey> {
    const value = generateKey('ffclient');
    const key: StoredKey = { id: `lk${randomBytes(5).toString('hex')}`, ...input, sha256: digest(value) };
    await this.change((keys) => [...keys, key]);
    return { id: key.id, name: key.name, plan: key.plan, value };
  }

  async list(): Promise<ClientKey[]> {
    return this.keys.map(({ id, name, plan }) => ({ id, name, plan }));
  }

  async revoke(id: string): Promise<boolean> {
    let found = false;
    await this.change((keys) => {
      found = keys.some((k) => k.id === id);
      return keys.filter((k) => k.id !== id);
    });
    return found;
  }

  /** Changes run one after another, each on the table the previous one left, so none is lost. */
  private changes: Promise<void> = Promise.resolve();

  /**
   * Applies a change and writes the whole table (to a temporary file, then renamed: a crash leaves the old
   * table or the new one, never half of one); the table in memory changes only once the file has.
   */
  private change(next: (keys: readonly StoredKey[]) => StoredKey[]): Promise<void> {
    const run = this.changes.then(async () => {
      const keys = next(this.keys);
      if (this.file) {
        const tmp = `${this.file}.${process.pid}.tmp`;
        await writeFile(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
        await rename(tmp, this.file);
      }
      this.keys = keys;
    });
    this.changes = run.catch(() => {});
    return run;
  }
}

function parseKeyFile(text: string, file: string): StoredKey[] {
  const fail = (why: string): never => {
    throw new Error(
      `cannot use the key table ${file}: ${why} (fix it, or delete it to forget every client key)`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) return fail('no "keys" list');
  const plans: readonly string[] = CLIENT_KEYS.plans;
  return keys.map((k, i) => {
    const key = k as Partial<StoredKey>;
    if (
      typeof key.id !== 'string' ||
      typeof key.name !== 'string' ||
      typeof key.plan !== 'string' ||
      !plans.includes(key.plan) ||
      typeof key.sha256 !== 'string' ||
      !/^[0-9a-f]{64}$/.test(key.sha256)
    ) {
      return fail(`key ${i} needs id, name, a plan (${plans.join(', ')}) and a sha256`);
    }
    return { id: key.id, name: key.name, plan: key.plan, sha256: key.sha256 };
  });
}

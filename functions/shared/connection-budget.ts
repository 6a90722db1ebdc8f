/**
 * The Postgres connection budget: how many connections the functions can hold at once, from the manifest
 * (which functions reach the database, and their kinds) and policy (pool size per kind, tier concurrency,
 * the API's burst). Lambda keeps a container, and its open connections, for minutes after its last
 * invocation, so these are connections held, not merely used. docs/infrastructure.md shows the default
 * stage's budget (a test keeps it current); a preflight can pass a stage's own concurrency.
 */
import { FUNCTIONS, type FunctionSpec } from '#functions/manifest';
import { API_EDGE, DATABASE, MAIL, PRIORITY_TIERS } from '#policy';

export interface BudgetRow {
  readonly kind: FunctionSpec['kind'];
  readonly functions: readonly string[];
  /** Most containers of these functions at once. */
  readonly containers: number;
  /** Connections per container (policy DATABASE.poolMax). */
  readonly pool: number;
  readonly connections: number;
  /** Where the container count comes from. */
  readonly bound: string;
}

export interface ConnectionBudget {
  readonly rows: readonly BudgetRow[];
  readonly total: number;
}

export interface BudgetOptions {
  /** Worker containers at once. @default the tiers' combined maxConcurrency (policy) */
  workerConcurrency?: number;
  /** API containers at once. @default API_EDGE.stageBurstLimit: the most requests the stage lets in at once */
  apiConcurrency?: number;
  functions?: readonly FunctionSpec[];
}

export function connectionBudget(options: BudgetOptions = {}): ConnectionBudget {
  const specs = (options.functions ?? FUNCTIONS).filter((f) => f.needs.database);
  const workers = options.workerConcurrency ?? PRIORITY_TIERS.reduce((n, t) => n + t.maxConcurrency, 0);
  const api = options.apiConcurrency ?? API_EDGE.stageBurstLimit;
  const kinds: FunctionSpec['kind'][] = ['api', 'worker', 'scheduled', 'mail', 'trigger', 'subscriber'];
  const rows = kinds.flatMap((kind): BudgetRow[] => {
    const names = specs.filter((f) => f.kind === kind).map((f) => f.name);
    if (names.length === 0) return [];
    const [containers, bound] =
      kind === 'api'
        ? [api, `the stage's burst of ${api} requests at once, shared by all ${names.length}`]
        : kind === 'worker'
          ? [workers * names.length, "the tiers' combined maxConcurrency"]
          : kind === 'scheduled'
            ? [names.length, 'one run each at a time: its timeout fits its period, as the manifest checks']
            : kind === 'trigger'
              ? [names.length, 'one run per deploy']
              : kind === 'mail'
                ? [
                    MAIL.concurrencyBound * names.length,
                    'policy MAIL.concurrencyBound: one invocation per verification mail, spread over the day',
                  ]
                : [names.length, 'one each'];
    const pool = DATABASE.poolMax[kind];
    return [{ kind, functions: names, containers, pool, connections: containers * pool, bound }];
  });
  return { rows, total: rows.reduce((n, r) => n + r.connections, 0) };
}

/** The budget as the Markdown table docs/infrastructure.md shows. */
export function budgetTable(budget: ConnectionBudget = connectionBudget()): string {
  return [
    '| kind | functions | containers at once | pool | connections |',
    '| --- | --- | --- | --- | --- |',
    ...budget.rows.map(
      (r) =>
        `| ${r.kind} | ${r.functions.join(', ')} | ${r.containers} (${r.bound}) | ${r.pool} | ${r.connections} |`,
    ),
    `| **all** | | | | **${budget.total}** |`,
  ].join('\n');
}

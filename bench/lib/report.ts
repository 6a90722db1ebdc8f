/**
 * What a benchmark hands back and how it is shown: tables printed to the terminal, the whole result written
 * as JSON under bench/results/ (`<name>.json`, the latest, and `<name>-<time>.json`, kept), and the same
 * tables rendered as Markdown for docs/performance.md (`npm run bench -- docs`).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, freemem, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#local/services/python';

export const RESULTS_DIR = join(PROJECT_ROOT, 'bench', 'results');

export type Cell = string | number | null;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
  /** One line each under the table: what was measured, how, and what it means. */
  notes?: string[];
}

/** A target from the issue, the number measured against it, and whether it was met. */
export interface Goal {
  goal: string;
  target: string;
  measured: string;
  met: boolean;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGb: number;
  freeMemoryGb: number;
  os: string;
  node: string;
}

export interface BenchResult {
  name: string;
  title: string;
  /** ISO time the run started. */
  date: string;
  command: string;
  machine: Machine;
  /** Sizes, concurrency, overrides: everything needed to run it again the same way. */
  params: Record<string, unknown>;
  tables: Table[];
  goals: Goal[];
  /** Raw samples and per-item timings, for anyone who wants to look again. */
  raw?: Record<string, unknown>;
}

export function machine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGb: Math.round(totalmem() / 2 ** 30),
    freeMemoryGb: Math.round(freemem() / 2 ** 30),
    os: `${type()} ${release()}`,
    node: process.version,
  };
}

/** A number for a table: `digits` decimals, or an em dash for a missing value. */
export function fmt(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

const cellText = (c: Cell) => (c === null ? '—' : typeof c === 'number' ? fmt(c) : c);

export function renderText(table: Table): string {
  const cells = [table.columns, ...table.rows.map((r) => r.map(cellText))];
  const widths = table.columns.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  const out = [table.title, line(table.columns), widths.map((w) => '-'.repeat(w)).join('  ')];
  for (const r of cells.slice(1)) out.push(line(r));
  for (const note of table.notes ?? []) out.push(`  * ${note}`);
  return out.join('\n');
}

export function renderMarkdown(table: Table): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const out = [
    `**${table.title}**`,
    '',
    `| ${table.columns.map(esc).join(' | ')} |`,
    `| ${table.columns.map(() => '---').join(' | ')} |`,
    ...table.rows.map((r) => `| ${r.map((c) => esc(cellText(c))).join(' | ')} |`),
  ];
  if (table.notes?.length) out.push('', ...table.notes.map((n) => `- ${n}`));
  return out.join('\n');
}

export function goalsTable(goals: readonly Goal[]): Table {
  return {
    title: 'Goals',
    columns: ['goal', 'target', 'measured', 'met'],
    rows: goals.map((g) => [g.goal, g.target, g.measured, g.met ? 'yes' : 'NO']),
  };
}

/** The section docs/performance.md shows for one result. */
export function renderResultMarkdown(result: BenchResult): string {
  const m = result.machine;
  return [
    `Measured ${result.date.slice(0, 16).replace('T', ' ')} UTC on ${m.cores} × ${m.cpu}, ${m.memoryGb} GB, ` +
      `${m.os}, Node ${m.node}, with \`${result.command}\`.`,
    '',
    ...result.tables.map(renderMarkdown).flatMap((t) => [t, '']),
    ...(result.goals.length > 0 ? [renderMarkdown(goalsTable(result.goals)), ''] : []),
  ].join('\n');
}

/** Prints the tables and writes `<name>.json` (latest) and `<name>-<time>.json` under bench/results/. */
export async function publish(result: BenchResult): Promise<string> {
  for (const table of result.tables) console.log(`\n${renderText(table)}`);
  if (result.goals.length > 0) console.log(`\n${renderText(goalsTable(result.goals))}`);
  await mkdir(RESULTS_DIR, { recursive: true });
  const body = `${JSON.stringify(result, null, 2)}\n`;
  const stamp = result.date.replace(/[:.]/g, '-');
  await writeFile(join(RESULTS_DIR, `${result.name}-${stamp}.json`), body);
  const latest = join(RESULTS_DIR, `${result.name}.json`);
  await writeFile(latest, body);
  console.log(`\nresults: ${latest}`);
  return latest;
}

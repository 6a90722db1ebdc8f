/**
 * Keeps docs/performance.md's tables equal to the latest results: each benchmark's section sits between
 * `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` and is replaced by the Markdown of bench/results/NAME.json.
 * The prose around the markers (what the numbers mean, what was fixed) is written by hand.
 */
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PROJECT_ROOT } from '#local/services/python';
import { type BenchResult, RESULTS_DIR, renderMarkdown, renderResultMarkdown } from './report.ts';

export const PERFORMANCE_DOC = join(PROJECT_ROOT, 'docs', 'performance.md');

export function replaceSection(doc: string, name: string, body: string): string | undefined {
  const open = `<!-- bench:${name} -->`;
  const close = `<!-- /bench:${name} -->`;
  const start = doc.indexOf(open);
  const end = doc.indexOf(close);
  if (start < 0 || end < start) return undefined;
  return `${doc.slice(0, start + open.length)}\n${body.trim()}\n${doc.slice(end)}`;
}

/** The summary's rows as the page has them: a benchmark not run in this checkout keeps its goals. */
function summaryRows(doc: string): string[][] {
  const open = '<!-- bench:summary -->';
  const start = doc.indexOf(open);
  const end = doc.indexOf('<!-- /bench:summary -->');
  if (start < 0 || end < start) return [];
  return doc
    .slice(start + open.length, end)
    .split('\n')
    .filter((line) => line.startsWith('| '))
    .slice(2) // the header and its rule
    .map((line) =>
      line
        .slice(2, -2)
        .split(' | ') // an escaped pipe in a cell has a backslash before it, never a space
        .map((cell) => cell.replace(/\\\|/g, '|')),
    );
}

export async function updatePerformanceDoc(names: readonly string[]): Promise<string> {
  let doc = await readFile(PERFORMANCE_DOC, 'utf8');
  const report: string[] = [];
  const goals: string[][] = [];
  const recorded = summaryRows(doc);
  for (const name of names) {
    const file = join(RESULTS_DIR, `${name}.json`);
    if (!existsSync(file)) {
      report.push(`${name}: no results yet (npm run bench -- ${name}); its goals kept as the page has them`);
      goals.push(...recorded.filter((row) => row[0] === name));
      continue;
    }
    const result = JSON.parse(await readFile(file, 'utf8')) as BenchResult;
    const next = replaceSection(doc, name, renderResultMarkdown(result));
    if (next === undefined) {
      report.push(`${name}: no <!-- bench:${name} --> section in docs/performance.md`);
      continue;
    }
    doc = next;
    report.push(`${name}: ${result.date}`);
    for (const g of result.goals) goals.push([name, g.goal, g.target, g.measured, g.met ? 'yes' : 'NO']);
  }
  // Every goal of every benchmark in one table at the top.
  const summary = replaceSection(
    doc,
    'summary',
    renderMarkdown({
      title: 'Goals, as last measured',
      columns: ['benchmark', 'goal', 'target', 'measured', 'met'],
      rows: goals,
    }),
  );
  if (summary !== undefined) doc = summary;
  await writeFile(PERFORMANCE_DOC, doc);
  return report.join('\n');
}

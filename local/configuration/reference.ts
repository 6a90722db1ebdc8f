/**
 * docs/configuration.md, generated: every environment variable (environment.ts) and every number of the
 * policy module with its value and its doc comment, read from functions/shared/policy.ts itself with the
 * TypeScript compiler API (values from the module as loaded, so `10 * 60` shows as 600). `npm run docs:config`
 * writes it; a test fails when the file is stale, so the reference cannot drift from the code.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import * as policy from '#policy';
import { PROJECT_ROOT } from '../services/python.ts';
import { ENVIRONMENT, type EnvGroup, type EnvVar } from './environment.ts';

export const POLICY_FILE = 'functions/shared/policy.ts';
export const CONFIGURATION_DOC = 'docs/configuration.md';

/** A paragraph, or nothing for an empty text. */
const para = (text: string) => (text ? `${text}\n\n` : '');

const cell = (text: string) =>
  text
    .replace(/\|/g, '\\|')
    .replace(/\s*\n\s*/g, ' ')
    .trim();

/** The doc comment right above a node, as one line. */
function docOf(node: ts.Node, source: ts.SourceFile): string {
  const ranges = ts.getLeadingCommentRanges(source.text, node.getFullStart()) ?? [];
  const last = ranges.filter((r) => source.text.slice(r.pos, r.pos + 3) === '/**').at(-1);
  if (!last) return '';
  return source.text
    .slice(last.pos + 3, last.end - 2)
    .split('\n')
    .map((l) => l.replace(/^\s*\*\s?/, ''))
    .join(' ')
    .replace(/\s+/g, ' ')
    .trim();
}

function unwrap(node: ts.Expression): ts.Expression {
  let e = node;
  while (ts.isAsExpression(e) || ts.isSatisfiesExpression(e) || ts.isParenthesizedExpression(e))
    e = e.expression;
  return e;
}

const nameOf = (p: ts.ObjectLiteralElementLike) =>
  p.name && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? p.name.text : undefined;

/** A value as the reference shows it: numbers with a readable duration or size beside them. */
export function show(key: string, value: unknown): string {
  if (value === null) return '`null`';
  if (typeof value === 'number') {
    const n = `\`${value}\``;
    if (/Seconds$/.test(key) && value >= 60) return `${n} (${human(value * 1000)})`;
    if (/Ms$/.test(key) && value >= 1000) return `${n} (${human(value)})`;
    if (/Bytes$/.test(key) && value >= 1024)
      return `${n} (${(value / 1_048_576).toFixed(2).replace(/\.?0+$/, '')} MiB)`;
    return n;
  }
  if (typeof value === 'object') {
    const rounded = JSON.stringify(value, (_, v) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v));
    return `\`${rounded}\``;
  }
  return `\`${String(value)}\``;
}

function human(ms: number): string {
  const units: [number, string][] = [
    [86_400_000, 'd'],
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  return `${ms / 1000} s`;
}

interface Row {
  key: string;
  value: unknown;
  doc: string;
}

/** Rows for an object literal: one per leaf, nested objects as dotted keys (rate presets stay whole). */
function objectRows(
  literal: ts.ObjectLiteralExpression,
  value: Record<string, unknown>,
  source: ts.SourceFile,
  prefix = '',
): Row[] {
  return literal.properties.flatMap((p) => {
    const key = nameOf(p);
    if (!key || !ts.isPropertyAssignment(p)) return [];
    const inner = unwrap(p.initializer);
    const v = value[key];
    const doc = docOf(p, source);
    const isPreset = v && typeof v === 'object' && !Array.isArray(v) && 'perMinute' in v;
    if (ts.isObjectLiteralExpression(inner) && v && typeof v === 'object' && !isPreset) {
      const nested = objectRows(inner, v as Record<string, unknown>, source, `${prefix}${key}.`);
      return doc && nested[0]
        ? [{ ...nested[0], doc: `${doc} ${nested[0].doc}`.trim() }, ...nested.slice(1)]
        : nested;
    }
    return [{ key: `${prefix}${key}`, value: v, doc }];
  });
}

/** Column docs of an array's element interface (PriorityTier for PRIORITY_TIERS). */
function interfaceDocs(name: string, source: ts.SourceFile): Map<string, string> {
  const docs = new Map<string, string>();
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const m of node.members)
        if (m.name && ts.isIdentifier(m.name)) docs.set(m.name.text, docOf(m, source));
    }
  });
  return docs;
}

export async function policyReference(sourceText?: string): Promise<string> {
  const text = sourceText ?? (await readFile(join(PROJECT_ROOT, POLICY_FILE), 'utf8'));
  const source = ts.createSourceFile(POLICY_FILE, text, ts.ScriptTarget.ES2022, true);
  const values = policy as unknown as Record<string, unknown>;
  const parts: string[] = [];
  source.forEachChild((node) => {
    if (!ts.isVariableStatement(node) || !node.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword))
      return;
    const decl = node.declarationList.declarations[0];
    if (!decl || !ts.isIdentifier(decl.name) || !decl.initializer) return;
    const name = decl.name.text;
    const init = unwrap(decl.initializer);
    const doc = docOf(node, source);
    const value = values[name];
    if (ts.isArrayLiteralExpression(init) && Array.isArray(value)) {
      const element = decl.type && ts.isTypeOperatorNode(decl.type) ? decl.type.type : decl.type;
      const typeName =
        element && ts.isArrayTypeNode(element) && ts.isTypeReferenceNode(element.elementType)
          ? element.elementType.typeName.getText(source)
          : '';
      const columns = Object.keys((value[0] ?? {}) as object);
      const docs = interfaceDocs(typeName, source);
      parts.push(
        `### \`${name}\`\n\n${para(doc)}| ${columns.join(' | ')} |\n| ${columns.map(() => '---').join(' | ')} |\n${value
          .map((row) => `| ${columns.map((c) => show(c, (row as Record<string, unknown>)[c])).join(' | ')} |`)
          .join('\n')}\n\n${columns
          .filter((c) => docs.get(c))
          .map((c) => `- \`${c}\`: ${cell(docs.get(c) as string)}`)
          .join('\n')}\n`,
      );
    } else if (ts.isObjectLiteralExpression(init) && value && typeof value === 'object') {
      const rows = objectRows(init, value as Record<string, unknown>, source);
      parts.push(
        `### \`${name}\`\n\n${para(doc)}| setting | value | meaning |\n| --- | --- | --- |\n${rows
          .map((r) => `| \`${name}.${r.key}\` | ${show(r.key, r.value)} | ${cell(r.doc)} |`)
          .join('\n')}\n`,
      );
    } else if (value && typeof value === 'object' && !Array.isArray(value)) {
      // Computed from other settings (USAGE_PLANS from RATE_LIMITS): the values as the module made them.
      parts.push(
        `### \`${name}\`\n\n${para(doc)}| setting | value |\n| --- | --- |\n${Object.entries(value)
          .map(([k, v]) => `| \`${name}.${k}\` | ${show(k, v)} |`)
          .join('\n')}\n`,
      );
    } else if (typeof value === 'number') {
      parts.push(`### \`${name}\`\n\n${para(doc)}Value: ${show(name, value)}\n`);
    }
  });
  return parts.join('\n');
}

function valueAt(path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], policy);
}

function envTable(group: EnvGroup, header: string, row: (v: EnvVar) => string): string {
  return `${header}\n${ENVIRONMENT.filter((v) => v.group === group)
    .map(row)
    .join('\n')}\n`;
}

function overrideDefault(v: EnvVar): string {
  if (!v.policy) return 'see meaning';
  const base = valueAt(v.policy);
  if (typeof base !== 'number') return `\`${v.policy}\``;
  return v.scale
    ? `\`${v.policy}\` × ${v.scale.factor} = \`${base * v.scale.factor}\` ${v.scale.unit}`
    : `\`${v.policy}\` = \`${base}\``;
}

export async function configurationReference(policySource?: string): Promise<string> {
  return `# Configuration reference

Generated by \`npm run docs:config\` from \`local/configuration/environment.ts\` (every environment variable
formfleet reads) and \`functions/shared/policy.ts\` (every number it runs by, with its doc comment). Do not edit
by hand: a test fails when this file differs from what the code says.

Where things are configured:

- **Numbers of behaviour** (tiers, limits, thresholds, schedules) live once in the policy module below. CDK,
  the handlers, the local runtime and the tests all read them; change one there, test, deploy.
- **Stages** (prefix, region, account, secrets, retention) live in \`cdk.json\` context \`formfleet:stages\`,
  read once by \`bin/formfleet.ts\` (see the deploy runbook).
- **Environment variables**: the three tables below. Handlers parse theirs once at cold start and fail fast
  naming every missing one.

## Running locally (npm start, npm run demo, npm run ops, npm test)

${envTable(
  'local',
  '| variable | used by | meaning |\n| --- | --- | --- |',
  (v) => `| \`${v.name}\` | ${cell(v.usedBy)} | ${cell(v.meaning)} |`,
)}
\`npm start -- --fast\` runs the schedules \`LOCAL.fastSpeedUp\` times faster. npm start passes the tuning
variables of the last table to the handlers it runs, so a changed limit can be tried locally first.

## Set for each function (by CDK in AWS, by the local runtime locally)

${envTable(
  'handler',
  '| variable | used by | meaning |\n| --- | --- | --- |',
  (v) => `| \`${v.name}\` | ${cell(v.usedBy)} | ${cell(v.meaning)} |`,
)}
## Tuning: one policy number for one function

Unset, each takes its default from the policy. Tests use them to shorten waits; a stage may set one on a
function (see the rate-limit runbook) as long as the policy is changed to match in the next release.

${envTable(
  'override',
  '| variable | used by | default | meaning |\n| --- | --- | --- | --- |',
  (v) => `| \`${v.name}\` | ${cell(v.usedBy)} | ${overrideDefault(v)} | ${cell(v.meaning)} |`,
)}
## Policy (\`functions/shared/policy.ts\`)

${await policyReference(policySource)}`;
}

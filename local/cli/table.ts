/**
 * Plain-text tables for the CLIs: a header, a rule, aligned columns (numbers right, text left), long cells
 * cut with an ellipsis. Written by hand: it is twenty lines, and the kept table libraries bring box-drawing
 * and colour dependencies the tools do not need.
 */
export interface Column<R> {
  header: string;
  value: (row: R) => string | number | null | undefined;
  align?: 'left' | 'right';
  /** Longest a cell may be; longer values end in "…". */
  max?: number;
}

const cell = (v: string | number | null | undefined) =>
  v === null || v === undefined || v === '' ? '-' : String(v);

function cut(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  return `${text.slice(0, Math.max(0, max - 1))}…`;
}

export function renderTable<R>(columns: readonly Column<R>[], rows: readonly R[]): string {
  const cells = rows.map((row) => columns.map((c) => cut(cell(c.value(row)), c.max)));
  const widths = columns.map((c, i) =>
    Math.max(c.header.length, ...cells.map((r) => (r[i] as string).length)),
  );
  const line = (values: readonly string[]) =>
    values
      .map((v, i) => {
        const width = widths[i] as number;
        return columns[i]?.align === 'right' ? v.padStart(width) : v.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(columns.map((c) => c.header)),
    line(widths.map((w) => '─'.repeat(w))),
    ...cells.map((r) => line(r)),
  ].join('\n');
}

/** "label  value" lines with the labels aligned. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

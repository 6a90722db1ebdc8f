/**
 * Dashboard panels contributed by the local stand-ins (the webhook receiver, the PagerDuty sink): each one
 * module that says what it shows (a few figures and a table) and where its figures come from. The page draws
 * every panel the same way and the browser script fills it from /dashboard/data (`panels.<id>`), so a new
 * stand-in adds its panel without touching the page, the snapshot or the script.
 */
export interface PanelSpec {
  /** Element ids and data keys: `panel.<id>.<figure>`, `panel.<id>.rows`. */
  readonly id: string;
  readonly title: string;
  readonly figures: readonly { readonly key: string; readonly label: string }[];
  readonly columns: readonly string[];
  /** What the table says while it has no row. */
  readonly empty: string;
  /** A line under the table (where the figures come from). */
  readonly note?: string;
}

export interface PanelData {
  figures: Record<string, string | number | null>;
  /** Table rows, newest first, one string per column. */
  rows: string[][];
}

export interface DashboardPanel extends PanelSpec {
  data(): PanelData | Promise<PanelData>;
}

const escapeHtml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A panel's section of the page (filled in by the browser script). */
export function panelHtml(p: PanelSpec): string {
  const tiles = p.figures
    .map(
      (f) =>
        `<div class="tile"><span class="value" data-figure="panel.${p.id}.${f.key}">–</span><span class="label">${escapeHtml(f.label)}</span></div>`,
    )
    .join('\n        ');
  return `<section class="panel" data-panel="${p.id}" data-columns="${p.columns.length}" data-empty="${escapeHtml(p.empty)}">
      <h2>${escapeHtml(p.title)}</h2>
      <div class="tiles">
        ${tiles}
      </div>
      <table class="list"><thead><tr>${p.columns.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr></thead>
        <tbody data-figure="panel.${p.id}.rows"></tbody></table>${p.note ? `\n      <p class="note">${escapeHtml(p.note)}</p>` : ''}
    </section>`;
}

/** Every panel's data, by id; a panel whose source fails shows an error row instead of failing the page. */
export async function panelData(panels: readonly DashboardPanel[]): Promise<Record<string, PanelData>> {
  const entries = await Promise.all(
    panels.map(async (p): Promise<[string, PanelData]> => {
      try {
        return [p.id, await p.data()];
      } catch (err) {
        return [p.id, { figures: {}, rows: [[`unavailable: ${(err as Error).message}`]] }];
      }
    }),
  );
  return Object.fromEntries(entries);
}

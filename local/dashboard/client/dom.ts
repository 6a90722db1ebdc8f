/** The dashboard page's small DOM helpers: text goes in through textContent only (never HTML). */

export const $ = (name: string) => document.querySelector<HTMLElement>(`[data-figure="${name}"]`);

export function set(name: string, value: string | number | null | undefined): void {
  const el = $(name);
  if (el) el.textContent = value === null || value === undefined ? '–' : String(value);
}

export function el(tag: string, text?: string, className?: string): HTMLElement {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

export function row(cells: (string | HTMLElement)[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (typeof cell === 'string') td.textContent = cell;
    else td.append(cell);
    tr.append(td);
  }
  return tr;
}

export function fill(name: string, children: HTMLElement[], emptyText: string, columns = 1): void {
  const target = $(name);
  if (!target) return;
  if (children.length > 0) {
    target.replaceChildren(...children);
    return;
  }
  if (target.tagName === 'TBODY') {
    const td = el('td', emptyText, 'empty');
    td.setAttribute('colspan', String(columns));
    const tr = document.createElement('tr');
    tr.append(td);
    target.replaceChildren(tr);
  } else {
    target.replaceChildren(el('li', emptyText, 'empty'));
  }
}

export const time = (iso: string) => new Date(iso).toLocaleTimeString();

/** Small DOM helpers: elements, number formats and the loading / empty / error states. */

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  el.append(...children);
  return el;
}

export const fmt = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined ? '—' : v.toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });

export function loading(el: HTMLElement, what: string): void {
  el.replaceChildren(h('p', { class: 'state', 'aria-busy': 'true', 'data-state': 'loading' }, `Loading ${what}…`));
}

export function empty(el: HTMLElement, message: string): void {
  el.replaceChildren(h('p', { class: 'state', 'data-state': 'empty' }, message));
}

export function failed(el: HTMLElement, err: unknown): void {
  el.replaceChildren(h('p', { class: 'state error', role: 'alert', 'data-state': 'error' }, (err as Error).message));
}

/** A card whose raw value is in data-value (what the end-to-end test compares with the API). */
export function card(testId: string, label: string, value: number | null, unit: string, digits = 2): HTMLElement {
  return h(
    'div',
    { class: 'card', 'data-testid': testId, 'data-value': value === null ? '' : String(value) },
    h('div', { class: 'label' }, label),
    h('div', { class: 'value' }, `${fmt(value, digits)} ${unit}`),
  );
}

export function panel(title: string, ...children: Node[]): HTMLElement {
  return h('section', { class: 'panel' }, h('h2', {}, title), ...children);
}

export interface Column<T> {
  title: string;
  num?: boolean;
  cell: (row: T) => Node | string;
}

export function table<T>(rows: T[], columns: Column<T>[], testId: string): HTMLElement {
  return h(
    'table',
    { 'data-testid': testId },
    h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', c.num ? { class: 'num', scope: 'col' } : { scope: 'col' }, c.title)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...columns.map((c) => h('td', c.num ? { class: 'num' } : {}, c.cell(r)))))),
  );
}

export function link(text: string, hash: string): HTMLElement {
  return h('a', { href: hash }, text);
}

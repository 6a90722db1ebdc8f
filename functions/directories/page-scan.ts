/**
 * What discovery reads in a page (or in one iframe's document): every visible form control with every signal a
 * person would use to tell what it is for (its label, name, id, placeholder, aria-label, autocomplete, type,
 * the text beside it), every control that could send or advance the form, and the page's visible text.
 *
 * The scan runs inside the page, so it is JavaScript source (a string): a function handed to Playwright would
 * be serialised from the transpiled TypeScript, with whatever helpers the transpiler added. It reads only; it
 * changes nothing on the page. Selectors are suggestions checked again from Node (discover.ts).
 */

/** A form control as the scan saw it. */
export interface ScannedInput {
  /** Document order, for stable choices. */
  index: number;
  tag: 'input' | 'textarea' | 'select';
  type: string;
  name: string;
  id: string;
  placeholder: string;
  ariaLabel: string;
  autocomplete: string;
  title: string;
  /** The text of its <label> elements and of aria-labelledby. */
  label: string;
  /** Text just before it, when no label names it (a heading, a cell, a span). */
  nearby: string;
  required: boolean;
  checked: boolean;
  value: string;
  /** <select> options (value and label), the first 50. */
  options: { value: string; label: string }[];
  /** Index of its <form> in document.forms, or -1 when it belongs to none. */
  form: number;
  /** Candidate selectors, most robust first (each unique in its document when suggested). */
  selectors: string[];
}

/** A control that could send the form or move to its next page. */
export interface ScannedButton {
  index: number;
  tag: string;
  type: string;
  role: string;
  text: string;
  id: string;
  name: string;
  form: number;
  selectors: string[];
}

export interface ScannedForm {
  index: number;
  id: string;
  name: string;
  action: string;
  /** A selector of the form element (unique in its document). */
  selector: string;
}

export interface PageScan {
  url: string;
  title: string;
  /** Visible text of the document (the first 8,000 characters). */
  text: string;
  forms: ScannedForm[];
  /** Text-like inputs, textareas, selects, checkboxes, radios and password inputs. */
  inputs: ScannedInput[];
  buttons: ScannedButton[];
  /** A password input is visible. */
  password: boolean;
}

/** The scan, as a JavaScript expression evaluated in the page or frame. */
export const PAGE_SCAN_SCRIPT = String.raw`(() => {
  const clean = (t) => (t || '').replace(/\s+/g, ' ').trim();
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const quote = (v) => '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
  const count = (selector) => {
    try { return document.querySelectorAll(selector).length; } catch (e) { return 0; }
  };
  const isIdent = (s) => /^[A-Za-z_][A-Za-z0-9_-]*$/.test(s);
  const path = (el) => {
    const parts = [];
    let node = el;
    while (node && node.nodeType === 1 && node !== document.body && node !== document.documentElement) {
      if (node.id && isIdent(node.id) && count('#' + node.id) === 1) { parts.unshift('#' + node.id); break; }
      const tag = node.tagName.toLowerCase();
      const parent = node.parentElement;
      const same = parent ? Array.from(parent.children).filter((c) => c.tagName === node.tagName) : [node];
      parts.unshift(same.length > 1 ? tag + ':nth-of-type(' + (same.indexOf(node) + 1) + ')' : tag);
      node = parent;
    }
    return parts.join(' > ');
  };
  const forms = Array.from(document.forms);
  const formSelector = (form) => {
    if (form.id && isIdent(form.id) && count('form#' + form.id) === 1) return 'form#' + form.id;
    const name = form.getAttribute('name');
    if (name && count('form[name=' + quote(name) + ']') === 1) return 'form[name=' + quote(name) + ']';
    return path(form);
  };
  const labelText = (el) => {
    const parts = [];
    if (el.labels) for (const l of Array.from(el.labels)) parts.push(clean(l.innerText || l.textContent));
    const by = el.getAttribute('aria-labelledby');
    if (by) for (const id of by.split(/\s+/)) {
      const ref = document.getElementById(id);
      if (ref) parts.push(clean(ref.innerText || ref.textContent));
    }
    return clean(parts.join(' ')).slice(0, 200);
  };
  const nearbyText = (el) => {
    let node = el;
    for (let depth = 0; depth < 3 && node; depth++) {
      let prev = node.previousSibling;
      while (prev) {
        const text = clean(prev.nodeType === 3 ? prev.textContent : (prev.innerText || prev.textContent));
        if (text) return text.slice(-120);
        prev = prev.previousSibling;
      }
      node = node.parentElement;
      if (node && (node.tagName === 'FORM' || node === document.body)) break;
    }
    return '';
  };
  const selectorsFor = (el) => {
    const tag = el.tagName.toLowerCase();
    const out = [];
    const add = (s) => { if (s && out.indexOf(s) === -1 && count(s) === 1) out.push(s); };
    const name = el.getAttribute('name');
    if (name) add(tag + '[name=' + quote(name) + ']');
    if (el.id && isIdent(el.id)) add('#' + el.id);
    else if (el.id) add(tag + '[id=' + quote(el.id) + ']');
    for (const attr of ['placeholder', 'aria-label', 'title']) {
      const v = el.getAttribute(attr);
      if (v) add(tag + '[' + attr + '=' + quote(v) + ']');
    }
    if (tag === 'input' && el.type === 'submit' && el.value) add('input[type="submit"][value=' + quote(el.value) + ']');
    if (tag === 'button' && el.form) {
      const f = formSelector(el.form);
      add(f + ' button[type=' + quote(el.getAttribute('type') || 'submit') + ']');
    }
    add(path(el));
    return out.slice(0, 4);
  };
  const fieldTypes = ['', 'text', 'email', 'tel', 'url', 'number', 'search', 'checkbox', 'radio', 'password'];
  const inputs = Array.from(document.querySelectorAll('input, textarea, select'))
    .filter((el) => {
      const type = (el.getAttribute('type') || '').toLowerCase();
      if (el.tagName === 'INPUT' && fieldTypes.indexOf(type) === -1) return false;
      if (el.disabled || el.readOnly) return false;
      // A radio or checkbox styled away behind its label still counts when its label shows.
      if ((type === 'checkbox' || type === 'radio') && el.labels && el.labels.length > 0)
        return visible(el) || Array.from(el.labels).some(visible);
      return visible(el);
    })
    .map((el, index) => ({
      index,
      tag: el.tagName.toLowerCase(),
      type: el.tagName === 'INPUT' ? ((el.getAttribute('type') || 'text').toLowerCase()) : el.tagName.toLowerCase(),
      name: el.getAttribute('name') || '',
      id: el.id || '',
      placeholder: el.getAttribute('placeholder') || '',
      ariaLabel: el.getAttribute('aria-label') || '',
      autocomplete: (el.getAttribute('autocomplete') || '').toLowerCase(),
      title: el.getAttribute('title') || '',
      label: labelText(el),
      nearby: labelText(el) ? '' : nearbyText(el),
      required: el.required || el.getAttribute('aria-required') === 'true',
      checked: !!el.checked,
      value: el.tagName === 'SELECT' ? '' : String(el.value || '').slice(0, 100),
      options: el.tagName === 'SELECT'
        ? Array.from(el.options).slice(0, 50).map((o) => ({ value: o.value, label: clean(o.label || o.text) }))
        : [],
      form: el.form ? forms.indexOf(el.form) : -1,
      selectors: selectorsFor(el),
    }));
  const controls = Array.from(document.querySelectorAll(
    'button, input[type="submit"], input[type="button"], input[type="image"], a[href], [role="button"]'))
    .filter((el) => visible(el) && !el.disabled)
    .map((el, index) => {
      const tag = el.tagName.toLowerCase();
      const text = clean(tag === 'input' ? (el.value || el.getAttribute('alt') || '') : (el.innerText || el.textContent))
        || clean(el.getAttribute('aria-label') || el.getAttribute('title') || '');
      const form = el.form ? forms.indexOf(el.form) : (el.closest('form') ? forms.indexOf(el.closest('form')) : -1);
      return {
        index, tag,
        type: tag === 'button' ? (el.getAttribute('type') || 'submit').toLowerCase() : (el.getAttribute('type') || '').toLowerCase(),
        role: el.getAttribute('role') || '',
        text: text.slice(0, 80),
        id: el.id || '',
        name: el.getAttribute('name') || '',
        form,
        selectors: selectorsFor(el),
      };
    })
    .filter((b) => b.text || b.tag === 'input' || b.type === 'submit')
    .slice(0, 200);
  return {
    url: location.href,
    title: clean(document.title).slice(0, 200),
    text: clean(document.body ? document.body.innerText : '').slice(0, 8000),
    forms: forms.map((f, index) => ({
      index, id: f.id || '', name: f.getAttribute('name') || '', action: f.getAttribute('action') || '',
      selector: formSelector(f),
    })),
    inputs,
    buttons: controls,
    password: Array.from(document.querySelectorAll('input[type="password"]')).some(visible),
  };
})()`;

/**
 * Marks elements for the discovery screenshot: an outline and a small tag with what each was matched to.
 * Evaluated with `MARK_SCRIPT(marks)`; the marks are data (selectors and labels), never markup.
 */
export function markScript(marks: readonly { selector: string; label: string; color: string }[]): string {
  return String.raw`((marks) => {
    for (const mark of marks) {
      let el = null;
      try { el = document.querySelector(mark.selector); } catch (e) { el = null; }
      if (!el) continue;
      el.style.outline = '3px solid ' + mark.color;
      el.style.outlineOffset = '2px';
      const box = el.getBoundingClientRect();
      const tag = document.createElement('div');
      tag.textContent = mark.label;
      tag.setAttribute('data-formfleet-mark', '');
      tag.style.cssText = 'position:absolute;z-index:2147483647;font:bold 11px sans-serif;color:#fff;padding:1px 4px;border-radius:3px;pointer-events:none;background:' + mark.color;
      tag.style.left = (box.left + window.scrollX) + 'px';
      tag.style.top = Math.max(0, box.top + window.scrollY - 15) + 'px';
      document.body.appendChild(tag);
    }
  })(${JSON.stringify(marks)})`;
}

/** Removes what markScript added (so a page filled afterwards looks as the site drew it). */
export const UNMARK_SCRIPT = String.raw`(() => {
  for (const tag of Array.from(document.querySelectorAll('[data-formfleet-mark]'))) tag.remove();
  for (const el of Array.from(document.querySelectorAll('[style*="outline"]'))) {
    el.style.outline = '';
    el.style.outlineOffset = '';
  }
})()`;

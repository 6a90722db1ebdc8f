/**
 * The one rule for text that enters formfleet, wherever it enters (JSON bodies and their field names, query
 * strings, path parameters, the headers the API reads, form definitions): text must be storable exactly as
 * sent. Two things cannot be:
 *
 *   - NUL (U+0000): Postgres text cannot hold it ("invalid byte sequence for encoding UTF8: 0x00");
 *   - an unpaired surrogate (U+D800..U+DFFF alone, which JSON.parse makes of a "\ud800" escape): it has no
 *     UTF-8 form, so storing it would silently turn it into U+FFFD.
 *
 * Such text is refused with a 400 naming the field, never stored altered. (A body that is not valid UTF-8 at
 * all is refused before it is parsed: http.ts.) The JSON Schemas state the NUL half of the rule as a
 * `pattern` on every text field (`NUL_FREE`, `NON_BLANK`) so the OpenAPI document says it too; an unpaired
 * surrogate cannot be written in UTF-8 at all, so the document says that half in words.
 */

/** A field and what is wrong with it (the API's error detail shape). */
export interface TextProblem {
  field: string;
  message: string;
}

/** With the `u` flag a well-formed pair is one code point, so only a surrogate on its own is in Cs. */
const LONE_SURROGATE = /\p{Cs}/u;

/** What is wrong with one piece of text, or undefined when it can be stored as sent. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) {
    return 'must not contain an unpaired surrogate (a \\ud800-\\udfff escape without its pair)';
  }
  return undefined;
}

/**
 * The JavaScript whitespace set (what String.prototype.trim removes), spelled out so a JSON Schema `pattern`
 * means the same in every regular-expression dialect (`\s` does not: Python's also has U+001C..U+001F).
 */
const WHITESPACE = '\\t\\n\\v\\f\\r \\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff';

/** JSON Schema `pattern`: text without NUL. */
export const NUL_FREE = '^[^\\u0000]*$';
/** JSON Schema `pattern`: text without NUL with at least one character that is not whitespace. */
export const NON_BLANK = `^[^\\u0000]*[^\\u0000${WHITESPACE}][^\\u0000]*$`;

/** Path parts shown at each end of a deeper path; the middle is counted, so a detail stays small. */
const PATH_ENDS = 8;

/**
 * A field path as the API names it: `name`, `directoryIds[0]`, `definition.steps[3].selectors[0]`; a path
 * deeper than twice PATH_ENDS shows its ends around `[…N more…]`.
 */
export function fieldPath(parts: readonly (string | number)[], root: string): string {
  if (parts.length === 0) return root;
  const step = (p: string | number, i: number) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`);
  if (parts.length <= 2 * PATH_ENDS) return parts.map(step).join('');
  const head = parts.slice(0, PATH_ENDS).map(step).join('');
  const tail = parts
    .slice(-PATH_ENDS)
    .map((p, i) => step(p, i + 1))
    .join('');
  return `${head}[…${parts.length - 2 * PATH_ENDS} more…]${tail}`;
}

/** Where a value sits: its key in its parent, and the parent (a chain, so a path is built only when needed). */
interface Place {
  key: string | number;
  parent: Place | undefined;
}

function pathOf(place: Place | undefined): (string | number)[] {
  const parts: (string | number)[] = [];
  for (let p = place; p; p = p.parent) parts.push(p.key);
  return parts.reverse();
}

/**
 * Every text problem inside a parsed JSON value (strings and field names, at any depth), one per field, in
 * document order, at most `limit`. Iterative and linear in the size of the value, so no nesting depth can
 * overflow the stack or take quadratic time.
 */
export function textProblems(value: unknown, root: string, limit = 20): TextProblem[] {
  const problems: TextProblem[] = [];
  const stack: Array<{ value: unknown; place: Place | undefined }> = [{ value, place: undefined }];
  while (stack.length > 0 && problems.length < limit) {
    const { value: v, place } = stack.pop() as { value: unknown; place: Place | undefined };
    if (typeof v === 'string') {
      const message = textProblem(v);
      if (message) problems.push({ field: fieldPath(pathOf(place), root), message });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], place: { key: i, parent: place } });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([key]) => {
        const message = textProblem(key);
        if (message)
          problems.push({ field: fieldPath(pathOf(place), root), message: `field names ${message}` });
        return !message;
      });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        stack.push({ value: child, place: { key, parent: place } });
      }
    }
  }
  return problems.slice(0, limit);
}

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

/** A field path as the API names it: `name`, `directoryIds[0]`, `definition.steps[3].selectors[0]`. */
export function fieldPath(parts: readonly (string | number)[], root: string): string {
  if (parts.length === 0) return root;
  return parts.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/**
 * Every text problem inside a parsed JSON value (strings and field names, at any depth), one per field, in
 * document order, at most `limit`. Iterative, so no nesting depth can overflow the stack.
 */
export function textProblems(value: unknown, root: string, limit = 20): TextProblem[] {
  const problems: TextProblem[] = [];
  const stack: Array<{ value: unknown; path: (string | number)[] }> = [{ value, path: [] }];
  while (stack.length > 0 && problems.length < limit) {
    const { value: v, path } = stack.pop() as { value: unknown; path: (string | number)[] };
    if (typeof v === 'string') {
      const message = textProblem(v);
      if (message) problems.push({ field: fieldPath(path, root), message });
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
    } else if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v).filter(([key]) => {
        const message = textProblem(key);
        if (message) problems.push({ field: fieldPath(path, root), message: `field names ${message}` });
        return !message;
      });
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i] as [string, unknown];
        stack.push({ value: child, path: [...path, key] });
      }
    }
  }
  return problems.slice(0, limit);
}

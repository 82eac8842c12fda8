/**
 * Globs as Home Assistant matches them: Python's `fnmatch.translate`, compiled without flags and
 * matched against the whole entity id (HA's entityfilter.py `_convert_globs_to_pattern`, and
 * entity_values.py for `component_config_glob`). Case-sensitive.
 *
 *   *        any run of characters, also none
 *   ?        one character
 *   [seq]    one character in seq; `a-z` is a range; a `]` right after `[` (or `[!`) is a member,
 *            so is a `-` first or last; a range whose start is after its end is dropped with
 *            both ends (`[z-a]` matches nothing, `[!z-a]` any one character)
 *   [!seq]   one character not in seq
 *   [        with no `]` after it: a literal `[`
 * Nothing is quoted: a backslash is a literal character, inside brackets too. A character is a
 * code point, as in Python's str (hence the `u` flag); on the Latin-1 path (latin1.ts) globs and
 * ids are both in Latin-1 form, where a non-ASCII character counts as its UTF-8 bytes: `?` and
 * ranges differ from Python there, for ids HA does not make (its entity ids are ASCII).
 */

/** Characters escaped outside brackets (those the `u` flag allows escaping). */
const SYNTAX = /[\\^$.*+?()[\]{}|/]/g;
/** Characters escaped inside brackets. */
const CLASS_SYNTAX = /[\\\]^[-]/g;

const classChars = (chars: readonly string[]): string => chars.join('').replace(CLASS_SYNTAX, '\\$&');
const codePoint = (c: string | undefined): number => c?.codePointAt(0) ?? -1;

/**
 * `[…]` with its contents `stuff` (without the brackets). Python splits the contents at the
 * hyphens that make ranges: not one right after `[` or `[!`, and not one right after a range's
 * end; what lies between them is literal.
 */
function bracket(stuff: readonly string[]): string {
  let chunks: string[][] = [];
  if (!stuff.includes('-')) chunks = [[...stuff]];
  else {
    let start = 0;
    let k = stuff[0] === '!' ? 2 : 1;
    for (;;) {
      k = stuff.indexOf('-', k);
      if (k < 0) break;
      chunks.push(stuff.slice(start, k));
      start = k + 1;
      k += 3;
    }
    const last = stuff.slice(start);
    if (last.length > 0) chunks.push(last);
    else chunks[chunks.length - 1]?.push('-');
    // Empty ranges (start after end) are removed with both their ends.
    for (let j = chunks.length - 1; j > 0; j--) {
      const before = chunks[j - 1] as string[];
      const after = chunks[j] as string[];
      if (codePoint(before[before.length - 1]) > codePoint(after[0])) chunks.splice(j - 1, 2, [...before.slice(0, -1), ...after.slice(1)]);
    }
  }
  const first = chunks[0] as string[];
  if (chunks.length === 1 && first.length === 0) return '(?!)';
  if (chunks.length === 1 && first.length === 1 && first[0] === '!') return '.';
  const negate = first[0] === '!';
  if (negate) chunks[0] = first.slice(1);
  return `[${negate ? '^' : ''}${chunks.map(classChars).join('-')}]`;
}

/** The regular expression source of one glob, unanchored. */
export function fnmatchSource(glob: string): string {
  const pat = Array.from(glob);
  const n = pat.length;
  let out = '';
  let star = false;
  let i = 0;
  while (i < n) {
    const c = pat[i++] as string;
    if (c === '*') {
      if (!star) out += '.*';
      star = true;
      continue;
    }
    star = false;
    if (c === '?') out += '.';
    else if (c === '[') {
      let j = i;
      if (pat[j] === '!') j++;
      if (pat[j] === ']') j++;
      while (j < n && pat[j] !== ']') j++;
      if (j >= n) out += '\\[';
      else {
        out += bracket(pat.slice(i, j));
        i = j + 1;
      }
    } else out += c.replace(SYNTAX, '\\$&');
  }
  return out;
}

/** One glob → a RegExp that tests whole ids. */
export function fnmatchRegExp(glob: string): RegExp {
  return new RegExp(`^(?:${fnmatchSource(glob)})$`, 'su');
}

/** Several globs → one RegExp that matches when any of them does; null for none (as HA). */
export function anyGlobRegExp(globs: readonly string[]): RegExp | null {
  if (globs.length === 0) return null;
  return new RegExp(`^(?:${[...new Set(globs)].map(fnmatchSource).join('|')})$`, 'su');
}

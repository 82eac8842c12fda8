/**
 * Which numbers HA spelled as floats. Home Assistant serialises a Python float that has no
 * fraction as `5.0` and an int as `5`; JSON.parse makes both the number 5, and Node 20's
 * JSON.parse cannot show the source text. HA's integration prints lists and dicts with Python's
 * str(), and its digits rule (workers/ha-schema.ts) then runs on that text: `[30.0, 100.0]`
 * (a light's hs_color) has two dots and gives no float, `[30, 100]` has none and gives 30100.
 *
 * `parseKeepingFloats` parses like JSON.parse and records, for every array and object that holds
 * a float-spelled integral number (`5.0`, `1e3`), which members those are. The record lives in a
 * WeakMap keyed by the container, so it goes with the parsed value. SCHEMA=ha parses a frame this
 * way only when its text has such a number inside brackets (`FLOAT_IN_CONTAINER`); every other
 * frame keeps JSON.parse.
 */

/** Members (array indexes or object keys) spelled as floats with an integral value. */
const FLOAT_MEMBERS = new WeakMap<object, Set<number | string>>();

/** Whether `container[member]` was spelled as a float in HA's text although its value is integral. */
export function spelledAsFloat(container: object, member: number | string): boolean {
  return FLOAT_MEMBERS.get(container)?.has(member) === true;
}

/**
 * Whether a frame's text holds an integral number spelled with a fraction or an exponent (`5.0`,
 * `1e3`) where the spelling matters: as an array element, or as a member of a dict that is itself
 * a value — not a member of a state's attributes (`"attributes":{`, history's `{"s":…,"a":{`),
 * whose numbers Python's float() reads the same either way (`everywhere`: those count too, for
 * tags_attributes). One regular-expression pass finds the candidates (rare in most frames); each
 * is placed by the nearest bracket before it. Over-matching (a bracket inside a string) only costs
 * the slower parse; under-matching is what the unit tests guard.
 */
/** The end of an integral number spelled as a float (`…5.0`, `…1e3`) and the delimiter after it. */
const CANDIDATE = /\d(?:\.0+(?:[eE][+-]?\d+)?|[eE][+-]?\d+)\s*[,\]}]/g;
/** What comes before a state's own attributes: `"state":"…",` (HA's key order), or a history row's `"s"`. */
const STATE_ATTRIBUTES = /"state":"(?:[^"\\]|\\.)*","attributes":$/;
const HISTORY_ROW_ATTRIBUTES = /(?:\[|\},)\{"s":"(?:[^"\\]|\\.)*","a":$/;

export function mayHoldFloatSpelling(text: string, everywhere = false): boolean {
  CANDIDATE.lastIndex = 0;
  for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
    const before = charBeforeNumber(text, m.index);
    // After `[` or a comma: an array element (object members start with a quote).
    if (before === 0x5b || before === 0x2c) return true;
    if (before === 0x3a && (everywhere || !inAttributes(text, m.index))) return true;
  }
  return false;
}

/** The character before the number whose digit is at `at` (spaces skipped), or -1. */
function charBeforeNumber(text: string, at: number): number {
  let i = at;
  while (i > 0 && text.charCodeAt(i - 1) >= 0x30 && text.charCodeAt(i - 1) <= 0x39) i--;
  if (text.charCodeAt(i - 1) === 0x2d) i--;
  while (i > 0 && /\s/.test(text.charAt(i - 1))) i--;
  return i > 0 ? text.charCodeAt(i - 1) : -1;
}

/** Whether the member whose `:` is at `colon` belongs directly to a state's attributes. */
function inAttributes(text: string, colon: number): boolean {
  let i = colon - 1;
  for (; i >= 0; i--) {
    const c = text.charCodeAt(i);
    if (c === 0x7b || c === 0x7d || c === 0x5b || c === 0x5d) break;
  }
  if (i < 0 || text.charCodeAt(i) !== 0x7b) return false;
  // A state string is at most 255 characters in HA.
  const before = text.slice(Math.max(0, i - 1024), i);
  return STATE_ATTRIBUTES.test(before) || HISTORY_ROW_ATTRIBUTES.test(before);
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const CONTROL = /[\u0000-\u001f]/;

function backslashesBefore(text: string, at: number): number {
  let n = 0;
  while (text.charCodeAt(at - 1 - n) === 0x5c) n++;
  return n;
}
const WHITESPACE = /[ \t\n\r]*/y;
const FRACTION_OR_EXPONENT = /[.eE]/;

class Parser {
  private at = 0;

  constructor(private readonly text: string) {}

  parse(): unknown {
    const value = this.value();
    this.skip();
    if (this.at !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private skip(): void {
    if (this.text.charCodeAt(this.at) > 0x20) return; // HA's JSON is compact: the usual case
    WHITESPACE.lastIndex = this.at;
    WHITESPACE.exec(this.text);
    this.at = WHITESPACE.lastIndex;
  }

  private fail(why: string): never {
    throw new SyntaxError(`${why} at position ${this.at}`);
  }

  private value(): unknown {
    this.skip();
    const c = this.text.charCodeAt(this.at);
    if (c === 0x7b) return this.object();
    if (c === 0x5b) return this.array();
    if (c === 0x22) return this.string();
    if (this.text.startsWith('true', this.at)) return this.literal(4, true);
    if (this.text.startsWith('false', this.at)) return this.literal(5, false);
    if (this.text.startsWith('null', this.at)) return this.literal(4, null);
    return this.number().value;
  }

  private literal<T>(length: number, value: T): T {
    this.at += length;
    return value;
  }

  private number(): { value: number; floatSpelled: boolean } {
    NUMBER.lastIndex = this.at;
    if (!NUMBER.test(this.text)) this.fail('unexpected character');
    const token = this.text.slice(this.at, NUMBER.lastIndex);
    this.at = NUMBER.lastIndex;
    const value = Number(token);
    return { value, floatSpelled: Number.isInteger(value) && FRACTION_OR_EXPONENT.test(token) };
  }

  private string(): string {
    const start = this.at;
    let end = this.text.indexOf('"', start + 1);
    if (end === -1) this.fail('unterminated string');
    let raw = this.text.slice(start + 1, end);
    if (raw.includes('\\')) {
      // The closing quote is the first one after an even run of backslashes.
      while (backslashesBefore(this.text, end) % 2 === 1) {
        end = this.text.indexOf('"', end + 1);
        if (end === -1) this.fail('unterminated string');
      }
      this.at = end + 1;
      return JSON.parse(this.text.slice(start, end + 1)) as string;
    }
    this.at = end + 1;
    // A control character is JSON.parse's to refuse, with its message.
    if (CONTROL.test(raw)) raw = JSON.parse(this.text.slice(start, end + 1)) as string;
    return raw;
  }

  /** A member: its value, noted in the container's record when it is a float-spelled integer. */
  private member(container: object, key: number | string): unknown {
    this.skip();
    const c = this.text.charCodeAt(this.at);
    if (c !== 0x2d && (c < 0x30 || c > 0x39)) return this.value();
    const { value, floatSpelled } = this.number();
    if (floatSpelled) {
      let members = FLOAT_MEMBERS.get(container);
      if (members === undefined) FLOAT_MEMBERS.set(container, (members = new Set()));
      members.add(key);
    } else if (typeof key === 'string') FLOAT_MEMBERS.get(container)?.delete(key); // a repeated key: its last value counts
    return value;
  }

  private array(): unknown[] {
    const out: unknown[] = [];
    this.at++;
    this.skip();
    if (this.text.charCodeAt(this.at) === 0x5d) return this.literal(1, out);
    for (;;) {
      out.push(this.member(out, out.length));
      this.skip();
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) this.fail("expected ',' or ']'");
    }
  }

  private object(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    this.at++;
    this.skip();
    if (this.text.charCodeAt(this.at) === 0x7d) return this.literal(1, out);
    for (;;) {
      this.skip();
      if (this.text.charCodeAt(this.at) !== 0x22) this.fail('expected a key');
      const key = this.string();
      this.skip();
      if (this.text.charCodeAt(this.at++) !== 0x3a) this.fail("expected ':'");
      const value = this.member(out, key);
      // As JSON.parse: a repeated key keeps its last value, and "__proto__" is an own key.
      if (key === '__proto__') Object.defineProperty(out, key, { value, writable: true, enumerable: true, configurable: true });
      else out[key] = value;
      this.skip();
      const c = this.text.charCodeAt(this.at++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) this.fail("expected ',' or '}'");
    }
  }
}

/** JSON.parse, remembering which integral numbers inside arrays and objects were spelled as floats. */
export function parseKeepingFloats(text: string): unknown {
  return new Parser(text).parse();
}

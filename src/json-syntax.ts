/**
 * Where JSON text stops being JSON, as a line and column, for a file JSON.parse refused. V8's
 * own message is never passed on: it may quote a slice of the text (`Unexpected token 'h',
 * ..."password": hunter2"...`), and a configuration file holds passwords and tokens. A scanner of
 * RFC 8259's grammar, run only after JSON.parse failed, so it need not be fast.
 */

/** "line L, column C" of the first syntax error in `text` (both from 1). */
export function jsonSyntaxPlace(text: string): string {
  let at: number;
  try {
    at = new Scanner(text).errorAt();
  } catch {
    // Nesting deeper than the stack: no place, still no text.
    return 'nested too deeply to say where';
  }
  const before = text.slice(0, at).split('\n');
  return `line ${before.length}, column ${(before[before.length - 1] ?? '').length + 1}`;
}

const LITERALS = ['true', 'false', 'null'];
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

class Scanner {
  private i = 0;

  constructor(private readonly text: string) {}

  /** The offset of the first error (the text's length when it ends too early). */
  errorAt(): number {
    if (!this.value()) return this.i;
    this.space();
    return this.i;
  }

  private space(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] as string)) this.i++;
  }

  private match(re: RegExp): boolean {
    re.lastIndex = this.i;
    if (!re.test(this.text)) return false;
    this.i = re.lastIndex;
    return true;
  }

  private value(): boolean {
    this.space();
    const c = this.text[this.i];
    if (c === '{') return this.container('}', true);
    if (c === '[') return this.container(']', false);
    if (c === '"') return this.string();
    const literal = LITERALS.find((l) => this.text.startsWith(l, this.i));
    if (literal !== undefined) {
      this.i += literal.length;
      return true;
    }
    return this.match(NUMBER);
  }

  /** A string from its opening quote; false at its first bad character (or the end of the text). */
  private string(): boolean {
    this.i++;
    while (this.i < this.text.length) {
      const c = this.text[this.i] as string;
      if (c === '"') {
        this.i++;
        return true;
      }
      if (c < ' ') return false;
      if (c === '\\') {
        const sequence = this.text.slice(this.i + 1, this.i + 6);
        if (!/^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(sequence)) return false;
        this.i += sequence[0] === 'u' ? 6 : 2;
      } else this.i++;
    }
    return false;
  }

  private container(close: string, keyed: boolean): boolean {
    this.i++;
    this.space();
    if (this.text[this.i] === close) {
      this.i++;
      return true;
    }
    for (;;) {
      if (keyed) {
        this.space();
        if (this.text[this.i] !== '"' || !this.string()) return false;
        this.space();
        if (this.text[this.i] !== ':') return false;
        this.i++;
      }
      if (!this.value()) return false;
      this.space();
      const c = this.text[this.i];
      this.i++;
      if (c === close) return true;
      if (c !== ',') {
        this.i--;
        return false;
      }
    }
  }
}

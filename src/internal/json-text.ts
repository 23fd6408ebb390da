/**
 * JSON parsing that reports where a syntax error is (line, column), since `JSON.parse`
 * on Node 20 often does not say.
 *
 * @module
 * @internal
 */
import { errorMessage } from './error-message.js';

/** A JSON syntax error with its location. */
export interface JsonSyntaxProblem {
  /** 1-based line. */
  readonly line: number;
  /** 1-based column. */
  readonly column: number;
  /** 0-based character offset. */
  readonly offset: number;
  /** What was found or expected. */
  readonly message: string;
}

/** Parses JSON text; on failure returns the first syntax problem and its position. */
export function parseJson(
  text: string,
): { ok: true; value: unknown } | { ok: false; problem: JsonSyntaxProblem } {
  // A UTF-8 BOM is common in files written by Windows tools and harmless.
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (error) {
    const found = locateJsonError(body);
    const offset = found?.offset ?? 0;
    const message = found?.message ?? errorMessage(error);
    return { ok: false, problem: { ...lineColumn(body, offset), offset, message } };
  }
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

class Scan extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

/** A strict JSON scanner run only after `JSON.parse` failed, to find where. */
function locateJsonError(text: string): { offset: number; message: string } | undefined {
  try {
    new JsonScanner(text).document();
    return undefined;
  } catch (e) {
    if (e instanceof Scan) return { offset: e.offset, message: e.message };
    throw e;
  }
}

/** Walks JSON text by the grammar, throwing a {@link Scan} at the first problem. */
class JsonScanner {
  private i = 0;

  constructor(private readonly text: string) {}

  /** One value, then only whitespace up to the end. */
  document(): void {
    this.value();
    this.ws();
    if (this.i < this.text.length) this.fail('end of file');
  }

  private describe(at: number): string {
    const text = this.text;
    return at >= text.length ? 'end of file' : `'${text[at] === '\n' ? '\\n' : text[at]}'`;
  }

  private fail(expected: string): never {
    throw new Scan(this.i, `expected ${expected}, found ${this.describe(this.i)}`);
  }

  private ws(): void {
    const text = this.text;
    while (this.i < text.length && ' \t\r\n'.includes(text[this.i] as string)) this.i++;
  }

  private literal(word: string): void {
    for (const ch of word) {
      if (this.text[this.i] !== ch) this.fail(`'${word}'`);
      this.i++;
    }
  }

  private string(): void {
    const text = this.text;
    this.i++;
    while (this.i < text.length) {
      const ch = text[this.i] as string;
      if (ch === '"') {
        this.i++;
        return;
      }
      if (ch === '\\') {
        this.escape();
        continue;
      }
      if (ch.charCodeAt(0) < 0x20) this.fail('no control character inside a string');
      this.i++;
    }
    this.fail("closing '\"'");
  }

  /** A backslash escape inside a string, from the backslash on. */
  private escape(): void {
    const text = this.text;
    this.i++;
    const esc = text[this.i];
    if (esc === 'u') {
      for (let k = 1; k <= 4; k++) {
        if (!/[0-9a-fA-F]/.test(text[this.i + k] ?? '')) {
          this.i += k;
          this.fail('a hex digit in \\u escape');
        }
      }
      this.i += 5;
      return;
    }
    if (esc === undefined || !'"\\/bfnrt'.includes(esc)) this.fail('a valid escape');
    this.i++;
  }

  private number(): void {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i));
    if (!m || m[0] === '-') this.fail('a number');
    this.i += (m as RegExpExecArray)[0].length;
  }

  private value(): void {
    this.ws();
    const ch = this.text[this.i];
    if (ch === '{') this.object();
    else if (ch === '[') this.array();
    else if (ch === '"') this.string();
    else if (ch === 't') this.literal('true');
    else if (ch === 'f') this.literal('false');
    else if (ch === 'n') this.literal('null');
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) this.number();
    else this.fail('a JSON value');
  }

  private object(): void {
    this.sequence('}', () => {
      this.ws();
      if (this.text[this.i] !== '"') this.fail('a property name in double quotes');
      this.string();
      this.ws();
      if (this.text[this.i] !== ':') this.fail("':'");
      this.i++;
      this.value();
    });
  }

  private array(): void {
    this.sequence(']', () => this.value());
  }

  /** The items of an object or array, from its opening bracket to `close`. */
  private sequence(close: '}' | ']', item: () => void): void {
    const text = this.text;
    this.i++;
    this.ws();
    if (text[this.i] === close) {
      this.i++;
      return;
    }
    for (;;) {
      item();
      this.ws();
      if (text[this.i] === ',') {
        this.i++;
        continue;
      }
      if (text[this.i] === close) {
        this.i++;
        return;
      }
      this.fail(`',' or '${close}'`);
    }
  }
}

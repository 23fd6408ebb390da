/**
 * Terminal output helpers: colour only when writing to a TTY (and `NO_COLOR` is unset).
 *
 * @module
 * @internal
 */

/** Where the CLI writes. */
export interface CliOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
}

/** Colour functions; identity when colour is off. */
export interface Paint {
  red(s: string): string;
  green(s: string): string;
  yellow(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const wrap = (open: number, close: number) => (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;

/** Colour functions for a stream: on only for a TTY without `NO_COLOR`. */
export function paintFor(stream: CliOutput, env: Record<string, string | undefined>): Paint {
  const on = stream.isTTY === true && !env['NO_COLOR'] && env['TERM'] !== 'dumb';
  const id = (s: string) => s;
  return on
    ? {
        red: wrap(31, 39),
        green: wrap(32, 39),
        yellow: wrap(33, 39),
        dim: wrap(2, 22),
        bold: wrap(1, 22),
      }
    : { red: id, green: id, yellow: id, dim: id, bold: id };
}

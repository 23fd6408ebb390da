/**
 * Finds the fenced code blocks of a Markdown file, for the documentation checks.
 *
 * Follows CommonMark fences closely enough for our docs: a fence is three or more
 * backticks or tildes, indented by at most three spaces; it closes on a line of the same
 * character at least as long, so a ```` fence may show ``` blocks verbatim.
 */

/** One fenced code block. */
export interface CodeBlock {
  /** Language from the info string, lower-cased (`ts`, `sh`, …); empty when none. */
  readonly lang: string;
  /** Words after the language in the info string, e.g. `['ignore']` for ```` ```ts ignore ````. */
  readonly flags: readonly string[];
  /** 1-based line number of the opening fence. */
  readonly line: number;
  /** The block's content, without the fences. */
  readonly code: string;
}

const OPEN = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)(.*)$/;

/** Returns every fenced code block of `markdown`, in order. An unclosed fence runs to the end. */
export function extractCodeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i] ?? '');
    if (!open) continue;
    const fence = open[1] ?? '```';
    const close = new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`);
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !close.test(lines[j] ?? '')) body.push(lines[j++] ?? '');
    blocks.push({
      lang: (open[2] ?? '').toLowerCase(),
      flags: (open[3] ?? '').trim().split(/\s+/).filter(Boolean),
      line: i + 1,
      code: body.join('\n'),
    });
    i = j;
  }
  return blocks;
}

/** Whether a block is TypeScript that the snippet check compiles (```ts / ```typescript, not `ignore`). */
export function isCheckedTypeScript(block: CodeBlock): boolean {
  return (block.lang === 'ts' || block.lang === 'typescript') && !block.flags.includes('ignore');
}

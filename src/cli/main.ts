/**
 * The `plugboard` command line for plugin authors.
 *
 * @module
 * @internal
 */
import { relative } from 'node:path';
import { type CliOutput, type Paint, paintFor } from './format.js';
import { ScaffoldError, scaffoldIntegration } from './init.js';
import { type ValidationReport, validateTarget } from './validate.js';

/** Streams and environment of one CLI run (injectable for tests). */
export interface CliIo {
  readonly stdout: CliOutput;
  readonly stderr: CliOutput;
  readonly cwd: string;
  readonly env: Record<string, string | undefined>;
}

const USAGE = `Usage: plugboard <command> [options]

Commands:
  validate <dir|manifest.json|module>...   Check manifest packages or plugin modules
        --json                             Print the reports as JSON
  init-integration <name> [--dir <path>]   Scaffold a manifest package

Options:
  -h, --help                               Show this help
`;

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function printReport(report: ValidationReport, io: CliIo, paint: Paint): void {
  const shown =
    relative(
      io.cwd,
      report.target.startsWith('/') ? report.target : `${io.cwd}/${report.target}`,
    ) || '.';
  const label = report.id ? `${report.id}${report.version ? `@${report.version}` : ''} ` : '';
  if (report.problems.length === 0) {
    const c = report.counts;
    const counts = c
      ? `${plural(c.triggers, 'event')}, ${plural(c.actions, 'action')}${c.conditions ? `, ${plural(c.conditions, 'condition')}` : ''}`
      : '';
    io.stdout.write(
      `${paint.green('✓')} ${label}${paint.dim(`(${shown}, ${report.kind})`)} ${counts}\n`,
    );
    return;
  }
  io.stdout.write(
    `${paint.red('✗')} ${label}${paint.dim(`(${shown})`)} ${paint.red(plural(report.problems.length, 'problem'))}\n`,
  );
  for (const p of report.problems) {
    io.stdout.write(`  ${p.path ? `${paint.bold(p.path)}: ` : ''}${p.message}\n`);
  }
}

async function validateCommand(args: string[], io: CliIo, paint: Paint): Promise<number> {
  const asJson = args.includes('--json');
  const targets = args.filter((a) => a !== '--json');
  const unknown = targets.find((t) => t.startsWith('-'));
  if (unknown || targets.length === 0) {
    io.stderr.write(
      unknown
        ? `Unknown option ${unknown}\n\n${USAGE}`
        : `validate: name at least one target\n\n${USAGE}`,
    );
    return 2;
  }
  const reports: ValidationReport[] = [];
  for (const t of targets) reports.push(await validateTarget(t, io.cwd));
  if (asJson) io.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
  else for (const r of reports) printReport(r, io, paint);
  return reports.some((r) => r.problems.length > 0) ? 1 : 0;
}

async function initCommand(args: string[], io: CliIo, paint: Paint): Promise<number> {
  const dirAt = args.indexOf('--dir');
  const dir = dirAt >= 0 ? args[dirAt + 1] : undefined;
  const rest = args.filter((_, i) => dirAt < 0 || (i !== dirAt && i !== dirAt + 1));
  const [name, ...extra] = rest;
  if (!name || extra.length > 0 || (dirAt >= 0 && !dir)) {
    io.stderr.write(`init-integration: expected <name> [--dir <path>]\n\n${USAGE}`);
    return 2;
  }
  try {
    const result = await scaffoldIntegration(name, io.cwd, dir);
    const shown = relative(io.cwd, result.dir) || '.';
    io.stdout.write(`${paint.green('✓')} created ${shown}/ with ${result.files.join(', ')}\n`);
    io.stdout.write(
      `  next: edit the schemas and index.js, then ${paint.bold(`plugboard validate ${shown}`)}\n`,
    );
    return 0;
  } catch (error) {
    if (error instanceof ScaffoldError) {
      io.stderr.write(`${paint.red('✗')} ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code:
 * 0 success, 1 problems found, 2 usage error.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...args] = argv;
  const out = paintFor(io.stdout, io.env);
  switch (command) {
    case 'validate':
      return validateCommand(args, io, out);
    case 'init-integration':
      return initCommand(args, io, out);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      (command === undefined ? io.stderr : io.stdout).write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      io.stderr.write(`Unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

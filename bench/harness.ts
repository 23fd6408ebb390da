/**
 * Shared benchmark helpers: run a tinybench suite and print ops/s with latency
 * percentiles in one table.
 */
import { Bench } from 'tinybench';

/** One benchmark task. */
export interface BenchTask {
  readonly name: string;
  readonly fn: () => unknown | Promise<unknown>;
  /**
   * Operations one call of `fn` performs (default 1). Tinybench times every call with
   * two clock reads and an await; for operations well under a microsecond that overhead
   * is a large part of what it measures, so such tasks run a batch of sequential
   * operations per call and the row reports per-operation figures.
   */
  readonly batch?: number;
}

/** One measured row. */
export interface BenchRow {
  readonly name: string;
  readonly opsPerSec: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly samples: number;
}

/** Runs the tasks, prints a table under `title`, and returns the rows. */
export async function runBench(
  title: string,
  tasks: readonly BenchTask[],
  options: { time?: number; warmupTime?: number } = {},
): Promise<BenchRow[]> {
  const bench = new Bench({ time: options.time ?? 1000, warmupTime: options.warmupTime ?? 200 });
  for (const t of tasks) bench.add(t.name, t.fn);
  const batchOf = new Map(tasks.map((t) => [t.name, t.batch ?? 1]));
  await bench.run();
  const rows: BenchRow[] = [];
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state === 'errored') throw r.error;
    if (r.state !== 'completed')
      throw new Error(`benchmark ${task.name} did not complete (${r.state})`);
    const batch = batchOf.get(task.name) ?? 1;
    rows.push({
      name: batch > 1 ? `${task.name} (batches of ${batch})` : task.name,
      opsPerSec: (1000 * batch) / r.latency.mean,
      p50us: (r.latency.p50 * 1000) / batch,
      p99us: (r.latency.p99 * 1000) / batch,
      samples: r.latency.samplesCount,
    });
  }
  printTable(title, rows);
  return rows;
}

/** Formats a number with thousands separators. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

/** Prints rows as an aligned table. */
export function printTable(title: string, rows: readonly BenchRow[]): void {
  console.log(`\n## ${title}\n`);
  console.log('| task | ops/s | p50 (µs) | p99 (µs) | samples |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${fmt(r.opsPerSec)} | ${fmt(r.p50us, 2)} | ${fmt(r.p99us, 2)} | ${fmt(r.samples)} |`,
    );
  }
}

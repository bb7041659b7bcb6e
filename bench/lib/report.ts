import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { MachineInfo } from './machine.js';
import { serverLabel, type ScenarioResult } from './scenario.js';

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

function pad(cells: string[], widths: number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

/** The side-by-side table: one line per server per variant, ratios ours/ref as medians of per-round ratios. */
export function formatTable(results: ScenarioResult[]): string {
  const header = ['scenario / variant', 'server', 'req/s', 'p50 ms', 'p99 ms', 'ours/ref req/s', 'ours/ref p50', 'answers (all measured runs)'];
  const rows: string[][] = [];
  for (const r of results) {
    if (r.skipped) {
      rows.push([r.scenario, '(skipped)', '', '', '', '', '', r.skipped]);
      continue;
    }
    if (r.headline) {
      const h = r.headline;
      rows.push([r.scenario, h.server, '', fmt(h.p50, 2), fmt(h.p99, 2), '', '', h.text]);
    }
    for (const v of r.variants) {
      for (const [server, m] of Object.entries(v.medians)) {
        const ratio = v.ratios[server];
        const shapes = Object.entries(v.shapes[server] ?? {})
          .sort((a, b) => b[1] - a[1])
          .map(([shape, n]) => `${shape}: ${n}`)
          .join(', ');
        rows.push([
          `${r.scenario} / ${v.name}`,
          serverLabel(server),
          fmt(m.rps),
          fmt(m.p50, 2),
          fmt(m.p99, 2),
          ratio ? `${fmt(ratio.rps, 2)}×` : '',
          ratio ? `${fmt(ratio.p50, 2)}×` : '',
          shapes,
        ]);
      }
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (i === 7 ? 0 : row[i]!.length))));
  return [pad(header, widths), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map((row) => pad(row, widths))].join('\n');
}

/** Write everything measured to bench/results/bench-<time>.json (the folder is git-ignored); return its path. */
export function writeResults(machine: MachineInfo, startedAt: Date, results: ScenarioResult[], settings: unknown): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = `${RESULTS_DIR}bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`;
  const body = { startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine, settings, scenarios: results };
  writeFileSync(file, `${JSON.stringify(body, null, 2)}\n`);
  return file;
}

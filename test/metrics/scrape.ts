/**
 * A scraper for the metrics tests: GET a `/metrics` URL as Prometheus would and read the text
 * format (version 0.0.4) into samples keyed `name{a="x",b="y"}`, labels in name order.
 */
import { expect } from 'vitest';

export interface Scrape {
  text: string;
  /** Every sample line, by its series. */
  samples: Map<string, number>;
  /** `# TYPE` of every metric family. */
  types: Map<string, string>;
  /** The value of one series; 0 when absent (a counter not yet incremented). */
  value(name: string, labels?: Record<string, string>): number;
  /** Every series of `name` with its labels and value. */
  series(name: string): Array<{ labels: Record<string, string>; value: number }>;
}

/** The key of a series: `name{a="x",b="y"}`, labels sorted by name. */
export function seriesKey(name: string, labels: Record<string, string> = {}): string {
  const names = Object.keys(labels).sort();
  if (names.length === 0) return name;
  return `${name}{${names.map((n) => `${n}="${labels[n]}"`).join(',')}}`;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  const parsed: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const type = /^# TYPE (\S+) (\S+)$/.exec(line);
      if (type) types.set(type[1]!, type[2]!);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, name, value] of (match[2] ?? '').matchAll(LABEL)) labels[name!] = value!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    const value = match[3] === '+Inf' ? Infinity : match[3] === '-Inf' ? -Infinity : Number(match[3]);
    samples.set(seriesKey(match[1]!, labels), value);
    parsed.push({ name: match[1]!, labels, value });
  }
  return {
    text,
    samples,
    types,
    value: (name, labels) => samples.get(seriesKey(name, labels)) ?? 0,
    series: (name) => parsed.filter((s) => s.name === name).map(({ labels, value }) => ({ labels, value })),
  };
}

/** GET `url` and parse it; the answer must be the Prometheus text format. */
export async function scrape(url: string): Promise<Scrape> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return parseMetrics(await res.text());
}

/** What changed between two scrapes, for the series whose name starts with `prefix`: key → after − before. */
export function changes(before: Scrape, after: Scrape, prefix: string): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [key, value] of after.samples) {
    if (!key.startsWith(prefix)) continue;
    const delta = value - (before.samples.get(key) ?? 0);
    if (delta !== 0) changed[key] = Math.round(delta * 1e9) / 1e9;
  }
  return changed;
}

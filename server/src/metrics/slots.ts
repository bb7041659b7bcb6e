/**
 * Counting on the hot path. A prom-client child (`counter.labels(...)`) still joins its label
 * values into a string key and allocates on every `inc()`, and a histogram child's `observe()`
 * also turns the bucket bound into a property name twice: about 1 µs and 2 to 3 µs a call on
 * this machine, against some 30 µs for a whole pending poll. So every request adds to plain
 * numbers in a slot, made once per label set and kept, and prom-client hears of them when it
 * collects (each scrape):
 *  - `CounterSlots`: a prom-client Counter whose children are made once per label set; at
 *    collect each child is given its slot's count in one `inc(n)`.
 *  - `HistogramSlots`: bucket counts kept here, handed to the prom-client registry as a
 *    histogram's values, in the shape prom-client's own Histogram returns them; the registry
 *    writes the text format (test/metrics/slots.test.ts holds the two outputs side by side).
 */
import { Counter, type Histogram, type Registry } from 'prom-client';

/** One label set's count since the last collect. */
export interface CountSlot {
  n: number;
}

/** Slots by up to two label values, made on first use. */
class SlotTree<S> {
  private readonly slots = new Map<string, Map<string, S>>();

  constructor(private readonly make: (a: string, b: string) => S) {}

  get(a: string, b: string): S {
    let inner = this.slots.get(a);
    if (inner === undefined) this.slots.set(a, (inner = new Map()));
    let slot = inner.get(b);
    if (slot === undefined) inner.set(b, (slot = this.make(a, b)));
    return slot;
  }
}

/** A prom-client Counter with no, one or two labels, counted through slots. */
export class CounterSlots {
  private readonly counter: Counter;
  private readonly tree: SlotTree<CountSlot>;
  private readonly bound: Array<{ child: Counter.Internal; slot: CountSlot }> = [];

  /** `beforeCollect` runs first at each collect, to count what is counted only then. */
  constructor(registry: Registry, name: string, help: string, labelNames: readonly string[] = [], beforeCollect?: () => void) {
    const flush = () => {
      beforeCollect?.();
      this.flush();
    };
    this.counter = new Counter({ name, help, labelNames, registers: [registry], collect: flush });
    this.tree = new SlotTree((a, b) => {
      const slot: CountSlot = { n: 0 };
      const child = this.counter.labels(...[a, b].slice(0, labelNames.length));
      this.bound.push({ child, slot });
      return slot;
    });
  }

  /** The slot of these label values (leave out what the counter has no label for). */
  slot(a = '', b = ''): CountSlot {
    return this.tree.get(a, b);
  }

  /** Hand every slot's count to its prom-client child. */
  private flush(): void {
    for (const { child, slot } of this.bound) {
      if (slot.n === 0) continue;
      child.inc(slot.n);
      slot.n = 0;
    }
  }
}

/** One label set of a histogram: counts per bucket (not cumulative), their sum and count. */
export class HistogramSlot {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    const { bounds } = this;
    let i = 0;
    while (i < bounds.length && value > bounds[i]!) i++;
    if (i < bounds.length) this.counts[i]! += 1;
    this.sum += value;
    this.count += 1;
  }
}

/**
 * What prom-client's registry reads off a metric to write a line: prom-client's own histogram
 * puts `le` in `labels` and the series' labels in `sharedLabels`, and so do these.
 */
interface HistogramValue {
  metricName: string;
  labels: Readonly<Record<string, string | number>>;
  sharedLabels: Readonly<Record<string, string | number>>;
  value: number;
}

const NO_LABELS = Object.freeze({});
const INFINITE = Object.freeze({ le: '+Inf' });

/** A histogram with three labels, the last one numeric (an HTTP status), counted through slots. */
export class HistogramSlots {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly labelled: Array<{ labels: Record<string, string | number>; slot: HistogramSlot }> = [];
  private readonly tree: SlotTree<Map<number, HistogramSlot>>;
  private readonly les: ReadonlyArray<Readonly<{ le: number }>>;

  constructor(
    registry: Registry,
    readonly name: string,
    readonly help: string,
    private readonly labelNames: readonly [string, string, string],
    private readonly bounds: readonly number[],
  ) {
    this.tree = new SlotTree(() => new Map());
    this.les = bounds.map((le) => Object.freeze({ le }));
    // The registry writes any metric that answers get() as prom-client's own do.
    registry.registerMetric(this as unknown as Histogram);
  }

  slot(a: string, b: string, c: number): HistogramSlot {
    const byC = this.tree.get(a, b);
    let slot = byC.get(c);
    if (slot === undefined) {
      slot = new HistogramSlot(this.bounds);
      byC.set(c, slot);
      const [la, lb, lc] = this.labelNames;
      this.labelled.push({ labels: { [la]: a, [lb]: b, [lc]: c }, slot });
    }
    return slot;
  }

  async get() {
    const values: HistogramValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const { labels, slot } of this.labelled) {
      let cumulative = 0;
      this.les.forEach((le, i) => {
        cumulative += slot.counts[i]!;
        values.push({ metricName: bucket, labels: le, sharedLabels: labels, value: cumulative });
      });
      values.push({ metricName: bucket, labels: INFINITE, sharedLabels: labels, value: slot.count });
      values.push({ metricName: `${this.name}_sum`, labels: NO_LABELS, sharedLabels: labels, value: slot.sum });
      values.push({ metricName: `${this.name}_count`, labels: NO_LABELS, sharedLabels: labels, value: slot.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Registry#resetMetrics(). */
  reset(): void {
    for (const { slot } of this.labelled) {
      slot.counts.fill(0);
      slot.sum = 0;
      slot.count = 0;
    }
  }
}

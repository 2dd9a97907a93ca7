/**
 * The one metrics idiom: the hot path bumps plain numbers, and prom-client reads them only
 * when `/metrics` is scraped (a labelled `inc()` per request would cost more than an
 * announce or a hot hit). Each service has a registry of its own, so two in one process
 * do not share series.
 */
import { Counter, Gauge, Registry } from 'prom-client'

export class ScrapeMetrics {
  readonly registry = new Registry()

  /** Prometheus text exposition. */
  async render(): Promise<string> {
    return await this.registry.metrics()
  }

  get contentType(): string {
    return this.registry.contentType
  }

  /**
   * A value read at scrape time. `aggregator`: how a cluster's workers' values combine
   * (prom-client `AggregatorRegistry`): `sum` for what each holds apart, `max` for one
   * thing they all see.
   */
  gauge(name: string, help: string, read: () => number, aggregator: 'sum' | 'max' = 'sum'): void {
    new Gauge({
      name,
      help,
      aggregator,
      registers: [this.registry],
      collect() {
        this.set(read())
      }
    })
  }

  /** A running total read at scrape time. */
  counter(name: string, help: string, read: () => number): void {
    new Counter({
      name,
      help,
      registers: [this.registry],
      collect() {
        // The plain number is the total: reset and add it, rather than track what was reported.
        this.reset()
        this.inc(read())
      }
    })
  }

  /** Running totals by several labels' values, read at scrape time. */
  labelsCounter(
    name: string,
    help: string,
    labels: string[],
    read: () => Iterable<readonly [Record<string, string>, number]>
  ): void {
    new Counter({
      name,
      help,
      labelNames: labels,
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [values, n] of read()) this.inc(values, n)
      }
    })
  }

  /** Running totals by one label's value, read at scrape time. */
  labelledCounter(name: string, help: string, label: string, read: () => Iterable<readonly [string, number]>): void {
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset()
        for (const [value, n] of read()) this.inc({ [label]: value }, n)
      }
    })
  }
}

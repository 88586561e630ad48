// Owns the feature API's Prometheus instruments, registered in the registry ops provides (app.metrics.registry).
import { Counter, Gauge, type Registry } from 'prom-client'
import type { StoreEvents } from './embedded/store.js'

export interface FeatureMetrics {
  /** Answered (2xx/304) feature reads and writes: the collection exists, so the label set stays small. */
  readonly queries: Counter<'collection'>
  readonly writes: Counter<'collection' | 'operation'>
  /** Feature writes answered 503: the append `failed` (and was cut back), or the store was `fenced`. */
  readonly writesRefused: Counter<'reason'>
  readonly compactionFailures: Counter
  /** 1 while the feature store refuses every write (a failed append it could not cut back). */
  readonly storeFenced: Gauge
}

const WRITE_OPERATIONS: Readonly<Record<string, string>> = { POST: 'create', PUT: 'replace', PATCH: 'update', DELETE: 'delete' }

export function registerFeatureMetrics (registry: Registry): FeatureMetrics {
  const registers = [registry]
  return {
    queries: new Counter({ name: 'geotoken_feature_queries_total', help: 'Answered feature reads (items, item) by collection', labelNames: ['collection'] as const, registers }),
    writes: new Counter({ name: 'geotoken_feature_writes_total', help: 'Answered feature writes by collection and operation', labelNames: ['collection', 'operation'] as const, registers }),
    writesRefused: new Counter({ name: 'geotoken_feature_writes_refused_total', help: 'Feature writes answered 503 by the store: failed (cut back) or fenced (writes refused)', labelNames: ['reason'] as const, registers }),
    compactionFailures: new Counter({ name: 'geotoken_feature_compaction_failures_total', help: 'Failed background compactions of the feature store (each retried with back-off)', registers }),
    storeFenced: new Gauge({ name: 'geotoken_feature_store_write_fenced', help: '1 while the feature store refuses every write, until a failed append is cut back', registers })
  }
}

/** The embedded store's events as metrics. */
export function storeEvents (metrics: FeatureMetrics): StoreEvents {
  return {
    writeRefused: reason => { metrics.writesRefused.inc({ reason }) },
    compactionFailed: () => { metrics.compactionFailures.inc() },
    fenced: on => { metrics.storeFenced.set(on ? 1 : 0) }
  }
}

/** Counts one answered feature request; refused ones (4xx/5xx) are visible in the HTTP histogram instead. */
export function countFeatureRequest (metrics: FeatureMetrics, method: string, collection: string | undefined, status: number): void {
  if (collection === undefined || status >= 400) return
  const operation = WRITE_OPERATIONS[method]
  if (operation !== undefined) metrics.writes.inc({ collection, operation })
  else if (method === 'GET' || method === 'HEAD') metrics.queries.inc({ collection })
}

// Owns the key ring's Prometheus gauges, read from the live store at scrape time, in a registry the host provides.
import { Counter, Gauge, type Registry } from 'prom-client'
import type { KeyStore } from './store.js'

/**
 * Registers the key instruments in `registry`: the ring's keys by state and age, how long the current key has signed
 * (alert when rotation stops happening), and whether keyring.json was usable at the last read.
 */
export function registerKeyMetrics (registry: Registry, store: KeyStore, clock: () => number): void {
  const registers = [registry]
  const ring = () => store.view.ring
  // No references kept: each instrument lives in the registry, which reads it at every scrape.
  new Gauge({
    name: 'geotoken_key_age_seconds',
    help: 'Seconds since each key of the ring was generated (published), by kid and state',
    labelNames: ['kid', 'state'] as const,
    registers,
    collect () {
      this.reset()
      const now = clock()
      for (const k of ring().keys) this.set({ kid: k.kid, state: k.state }, (now - k.createdAt) / 1000)
    }
  })
  new Gauge({
    name: 'geotoken_keys',
    help: 'Keys in the ring by state (exactly one current; at most one next)',
    labelNames: ['state'] as const,
    registers,
    collect () {
      const keys = ring().keys
      for (const state of ['next', 'current', 'retired'] as const) this.set({ state }, keys.filter(k => k.state === state).length)
    }
  })
  new Gauge({
    name: 'geotoken_signing_key_active_seconds',
    help: 'Seconds since the current key started signing: alert when rotation stops happening',
    registers,
    collect () {
      const current = store.view.signing
      this.set((clock() - (current.activatedAt ?? current.createdAt)) / 1000)
    }
  })
  new Gauge({
    name: 'geotoken_key_ring_healthy',
    help: '1 when keyring.json was valid at the last read; 0 while it is not and the last good ring keeps serving (a rotation is not applied)',
    registers,
    collect () { this.set(store.health.failure === undefined ? 1 : 0) }
  })
  new Counter({
    name: 'geotoken_key_ring_reload_failures_total',
    help: 'Reads of a changed or bad keyring.json that failed (one per poll while the file stays bad)',
    registers,
    collect () {
      this.reset()
      this.inc(store.health.failures)
    }
  })
}

// Owns the logger type every layer writes to: pino's, narrowed to what geotoken's own modules call.
import type { BaseLogger } from 'pino'

export type Log = Pick<BaseLogger, 'info' | 'warn' | 'error'>

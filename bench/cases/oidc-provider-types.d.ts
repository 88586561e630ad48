// The slice of oidc-provider's API the benchmark case uses (the package ships no TypeScript types).
declare module 'oidc-provider' {
  export default class Provider {
    constructor (issuer: string, configuration: Record<string, unknown>)
    listen (port: number, host: string): unknown
  }
}

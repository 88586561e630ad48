// The "orgs" Koop provider: each organization sees only its own GeoJSON, chosen by the verified token's `org`.
//   GET  /orgs/rest/services/:id/FeatureServer/0/query            (Koop's geoservices output, through authorize)
//   POST /orgs/rest/services/:id/FeatureServer/0/addFeatures      (this provider's own route: an edit)
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** org → service id → FeatureCollection, read once from `<dataDir>/<org>/<id>.geojson`. */
function loadStore (dataDir) {
  const store = new Map()
  for (const org of readdirSync(dataDir)) {
    const services = new Map()
    for (const file of readdirSync(join(dataDir, org)).filter(f => f.endsWith('.geojson'))) {
      services.set(file.slice(0, -'.geojson'.length), JSON.parse(readFileSync(join(dataDir, org, file), 'utf8')))
    }
    store.set(org, services)
  }
  return store
}

function failure (code, message) {
  return Object.assign(new Error(message), { code })
}

/**
 * @param {object} options
 * @param {string} options.dataDir
 * @param {number} options.cacheTtlS  how long Koop may cache an organization's data (0: not at all)
 * @param {(req: object) => string | undefined} options.orgOf  the caller's organization
 * @param {(err: unknown) => object} options.arcgisError  the ArcGIS error body of a refusal (geotoken/koop)
 */
export function orgsProvider ({ dataDir, cacheTtlS, orgOf, arcgisError }) {
  const store = loadStore(dataDir)

  class Model {
    constructor ({ logger }) {
      this.log = logger
    }

    // Koop calls authorize (the auth plugin) before this, and caches the answer for `ttl` seconds under a key
    // that the geotoken plugin makes carry the organization.
    async getData (req) {
      const org = orgOf(req)
      if (org === undefined) throw failure(499, 'no organization: is the auth plugin registered before this provider?')
      const collection = store.get(org)?.get(req.params.id)
      if (collection === undefined) throw failure(404, `no service ${req.params.id} for organization ${org}`)
      this.log.info(`orgs provider: read ${org}/${req.params.id}`)
      return { ...collection, ttl: cacheTtlS, metadata: { name: req.params.id, idField: 'fid', geometryType: 'Point' } }
    }
  }

  class Controller {
    constructor (model) {
      this.model = model
    }

    // Koop formats errors only on its output's routes: a provider's own route answers ArcGIS errors itself.
    async addFeatures (req, res) {
      try {
        await this.model.authorize(req)   // the plugin sees an edit operation and requires features:write
      } catch (err) {
        return res.status(200).json(arcgisError(err))
      }
      const org = orgOf(req)
      const services = store.get(org) ?? new Map()
      const collection = services.get(req.params.id) ?? { type: 'FeatureCollection', features: [] }
      let added
      try {
        added = JSON.parse(req.body?.features ?? 'null')
        if (!Array.isArray(added) || added.some(f => typeof f?.geometry?.x !== 'number' || typeof f?.geometry?.y !== 'number')) throw new Error()
      } catch {
        return res.status(200).json({ error: { code: 400, message: "'features' must be a JSON array of point features", details: [] } })
      }
      let fid = Math.max(0, ...collection.features.map(f => f.properties.fid))
      const features = added.map(f => ({ type: 'Feature', geometry: { type: 'Point', coordinates: [f.geometry.x, f.geometry.y] }, properties: { ...f.attributes, fid: ++fid } }))
      // A new object, never a change to one Koop may hold in its cache.
      services.set(req.params.id, { ...collection, features: [...collection.features, ...features] })
      store.set(org, services)
      res.status(200).json({ addResults: features.map(f => ({ objectId: f.properties.fid, success: true })) })
    }
  }

  return {
    type: 'provider',
    name: 'orgs',
    version: '1.0.0',
    Model,
    Controller,
    routes: [{ path: '/orgs/rest/services/:id/FeatureServer/:layer/addFeatures', methods: ['post'], handler: 'addFeatures' }]
  }
}

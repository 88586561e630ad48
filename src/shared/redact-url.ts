// Owns censoring credentials out of a URL, for any log line that carries one (geotoken's access log, Koop's).

// A token or secret pasted into a URL must not reach a log: ArcGIS clients send `token` in the query string,
// and a generateToken sent as GET carries `password` there.
const SECRET_QUERY = /([?&](?:access_token|token|client_secret|assertion|refresh_token|password)=)[^&#]*/gi

/** The URL with the value of every credential-bearing query parameter replaced by `[Redacted]`. */
export function redactUrl (url: string): string {
  return url.replace(SECRET_QUERY, '$1[Redacted]')
}

// Which request options a route takes. Options every route has had since it exists are always sent; the
// newer ones (CHECKED) only where the service's own /openapi.json documents them for that route, so an option
// a route does not take yet (e.g. `mirror`) is left out of that request instead of breaking it.

const CHECKED = new Set(["mirror", "units"]);

let routes = null;

function names(operation) {
  const out = new Set((operation.parameters || []).map((p) => p.name));
  const schema = operation.requestBody?.content?.["application/json"]?.schema;
  for (const name of Object.keys(schema?.properties || {})) out.add(name);
  return out;
}

export async function loadOptions(doc) {
  routes = {
    recognize: names(doc.paths["/recognize"]?.post || {}),
    detect: names(doc.paths["/detect"]?.post || {}),
  };
  routes.streams = routes.detect; // the start message takes /detect's options (docs/service.md)
}

// Keep only the options the route takes; empty values are left out (the API's defaults apply).
export function forRoute(route, options) {
  const out = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined || value === null || value === "" || value === false) continue;
    if (CHECKED.has(name) && !(routes && routes[route].has(name))) continue;
    out[name] = value;
  }
  return out;
}

// The page's only way to the service: same-origin fetches of documented routes, the API key kept in memory.

let apiKey = null;

export function setKey(value) {
  apiKey = value ? value : null;
}

export function key() {
  return apiKey;
}

// Fetch a route; resolve to {ok, status, body, headers}; `body` is JSON when the answer is JSON (problem+json
// included), else text. Network failures become a status-0 answer so callers render one kind of thing.
export async function call(method, path, { json, body, contentType } = {}) {
  const headers = {};
  if (apiKey) headers["X-API-Key"] = apiKey;
  let payload = body;
  if (json !== undefined) {
    payload = JSON.stringify(json);
    headers["Content-Type"] = "application/json";
  } else if (contentType) {
    headers["Content-Type"] = contentType;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload });
  } catch (err) {
    return { ok: false, status: 0, body: `request failed: ${err}`, headers: new Headers() };
  }
  const type = response.headers.get("content-type") || "";
  const text = await response.text();
  let parsed = text;
  if (type.includes("json") && text) {
    try { parsed = JSON.parse(text); } catch { parsed = text; }
  }
  return { ok: response.ok, status: response.status, body: parsed, headers: response.headers };
}

// Show an error answer as the API sent it: status line and the problem+json document verbatim.
export function showProblem(box, what, answer) {
  box.hidden = false;
  box.replaceChildren();
  const head = document.createElement("div");
  head.className = "problem-head";
  head.textContent = `${what}: HTTP ${answer.status}`;
  const pre = document.createElement("pre");
  pre.className = "problem-body";
  pre.textContent = typeof answer.body === "string" ? answer.body : JSON.stringify(answer.body, null, 2);
  box.append(head, pre);
}

export function clearProblem(box) {
  box.hidden = true;
  box.replaceChildren();
}

// Query string from an object; arrays repeat the key, undefined/null/"" are left out.
export function query(params) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) q.append(name, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : "";
}

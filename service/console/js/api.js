// The service's own API, as the console calls it: the bearer token in a header (never in a
// URL), errors explained in words, streams (SSE or ndjson) read from fetch() bodies, every path
// sent to the engine chosen in this tab (`/engines/{name}/...`).

const KEY = "dockyard.token";
const ENGINE_KEY = "dockyard.engine";
// the service's own paths, the same whichever engine: never sent to one by name
const SERVICE_WIDE = /^\/(engines|auth|openapi\.json|docs)(\/|$)/;

export const session = {
  token: sessionStorage.getItem(KEY) || "",
  who: null, // GET /auth/whoami: {name, scopes, team, expires, engines}
  spec: null, // /openapi.json: the scope of each operation
  engines: null, // GET /engines: those the token may use, each {name, default, reachable, kind, version, error}
  engine: null, // the one of `engines` this tab's calls go to; the default one (or none) by plain paths
};

export class ApiError extends Error {
  constructor(status, body, text) {
    super(text || explain(status, body));
    this.status = status;
    this.body = body;
  }
}

export function explain(status, body) {
  const message = (body && body.message) || "";
  switch (status) {
    case 0:
      return "The service cannot be reached: is it still running?";
    case 401:
      return `401: the service did not accept the token (${message || "no token sent"}). Paste a valid token in the Token field.`;
    case 403:
      return message.includes("rule `scope`")
        ? `403: this token may not do that. ${message}`
        : `403: refused by a rule of the service. ${message}`;
    case 404:
      return `404: not found. ${message}`;
    case 409:
      return `409: conflict with the engine's state. ${message}`;
    case 413:
      return `413: too large for the service. ${message}`;
    case 422: {
      const fields = body && body.errors ? JSON.stringify(body.errors) : "";
      return `422: invalid input. ${message} ${fields}`.trim();
    }
    case 502:
      return `502: the engine or a registry failed. ${message}`;
    case 503:
      // the service says which engine does not answer (and where), or why it is busy
      return message
        ? `503: unavailable, try again shortly. ${message}`
        : "503: the Docker daemon cannot be reached, or the service is busy; try again shortly.";
    case 504:
      return `504: the Docker daemon did not answer in time. ${message}`;
    default:
      return `${status} ${(body && body.status) || ""}: ${message}`.trim();
  }
}

// a path segment that may hold a reference (`127.0.0.1:5000/team/app:1.0`)
export function seg(value) {
  return encodeURIComponent(value).replace(/%2F/g, "/").replace(/%3A/g, ":");
}

// every call of the console goes to the engine of the tab: `/engines/{name}/...`, but for the
// default one (plain paths) and the service's own paths
export function url(path, query = {}) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) params.append(key, String(item));
  }
  const search = params.toString();
  const engine = session.engine && !session.engine.default && !SERVICE_WIDE.test(path)
    ? `/engines/${encodeURIComponent(session.engine.name)}` : "";
  return `${engine}${path}${search ? `?${search}` : ""}`;
}

function headers(accept, type) {
  const found = { Accept: accept };
  if (type) found["Content-Type"] = type;
  if (session.token) found.Authorization = `Bearer ${session.token}`;
  return found;
}

async function failure(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  return new ApiError(response.status, body);
}

// Chromium fails the requests that wait for a connection when the machine's addresses change,
// and a Docker host's change each time a container starts or stops (its veth, docker0's link):
// a request that got no answer at all is sent again where a second try does nothing more.
// GET, HEAD and PUT; a DELETE, whose second try may find the object gone (404: done); a POST
// when its caller says so (`repeat`: true, or the status that means done on a second try).
const REPEAT = { GET: true, HEAD: true, PUT: true, DELETE: 404 };
const PAUSES = [100, 400, 1200];

function pause(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

async function send(method, path, { query, body, accept, signal, type, repeat } = {}) {
  let payload;
  let contentType = type;
  if (body instanceof Blob) {
    payload = body;
  } else if (body !== undefined) {
    payload = JSON.stringify(body);
    contentType = "application/json";
  }
  const again = repeat ?? REPEAT[method];
  let response;
  for (let attempt = 0; ; attempt += 1) {
    try {
      response = await fetch(url(path, query), {
        method,
        headers: headers(accept || "application/json", contentType),
        body: payload,
        signal,
        cache: "no-store",
        credentials: "omit",
      });
    } catch (error) {
      if (error.name === "AbortError") throw error;
      if (!again || attempt >= PAUSES.length) throw new ApiError(0, null);
      await pause(PAUSES[attempt], signal);
      signal?.throwIfAborted();
      continue;
    }
    // the first try did it, unanswered: what it meant to do is done
    if (attempt && response.status === again) return new Response(null, { status: 204 });
    break;
  }
  if (!response.ok) throw await failure(response);
  return response;
}

// for a list asked again (a filter changed, an action done) before its last answer came: each
// answer but the latest asked for rejects as an AbortError, which the views leave unsaid, so
// that an earlier answer that comes later never draws over a newer one
export function newest() {
  let asked = 0;
  return async (answer) => {
    const mine = ++asked;
    const value = await answer;
    if (mine !== asked) throw new DOMException("a newer answer was asked for", "AbortError");
    return value;
  };
}

// a JSON call: the answer's JSON (or text), or an ApiError
export async function call(method, path, options = {}) {
  const response = await send(method, path, options);
  if (response.status === 204) return null;
  const kind = response.headers.get("Content-Type") || "";
  return kind.includes("json") ? response.json() : response.text();
}

// the raw answer, for downloads and for "try it"
export function fetchRaw(method, path, options = {}) {
  return send(method, path, { accept: "*/*", ...options });
}

// a stream: each event (the JSON of an SSE `data:` or of an ndjson line) goes to onEvent,
// and `options.onOpen` is told when it starts; resolves with the last event when it ends
export async function stream(method, path, onEvent, options = {}) {
  const accept = options.accept || "text/event-stream";
  const response = await send(method, path, { ...options, accept });
  // the service answers its headers once the daemon's stream is open
  if (options.onOpen) options.onOpen(response);
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const sse = (response.headers.get("Content-Type") || "").includes("event-stream");
  let buffer = "";
  let last = null;
  const take = (text) => {
    if (!text.trim()) return;
    let event;
    try {
      event = JSON.parse(text);
    } catch {
      return;
    }
    last = event;
    onEvent(event);
  };
  const onAbort = () => reader.cancel().catch(() => {});
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      const parts = buffer.split(sse ? /\r?\n\r?\n/ : /\r?\n/);
      buffer = parts.pop();
      for (const part of parts) {
        if (!sse) {
          take(part);
          continue;
        }
        const data = part
          .split(/\r?\n/)
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).replace(/^ /, ""))
          .join("\n");
        take(data);
      }
    }
    take(sse ? "" : buffer);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  if (last && last.type === "error") throw new ApiError(last.code || 500, last);
  return last;
}

// an upload whose progress shows: fetch() cannot tell how much of a body went
export function upload(method, path, file, { query, type, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, url(path, query));
    for (const [name, value] of Object.entries(headers("application/json", type))) {
      xhr.setRequestHeader(name, value);
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (onProgress) onProgress(event.loaded, event.lengthComputable ? event.total : file.size);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiError(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, null)));
    xhr.send(file);
  });
}

export function setToken(token) {
  session.token = token;
  if (token) sessionStorage.setItem(KEY, token);
  else sessionStorage.removeItem(KEY);
}

// who the token is: its name and scopes; null without a token or with a refused one
export async function identify() {
  session.who = null;
  if (!session.token) return null;
  session.who = await call("GET", "/auth/whoami");
  return session.who;
}

// the engines the token may use, and the tab's among them: the one it chose before (kept in
// this tab only, as the token is), else the default one
export async function loadEngines() {
  session.engines = null;
  session.engine = null;
  if (!can("read")) return null; // a token without `read` does not list them: the default one
  try {
    session.engines = await call("GET", "/engines");
  } catch {
    return null;
  }
  chooseEngine(sessionStorage.getItem(ENGINE_KEY));
  return session.engines;
}

export function chooseEngine(name) {
  const engines = session.engines || [];
  session.engine = engines.find((e) => e.name === name) || engines.find((e) => e.default) || engines[0] || null;
  if (session.engine) sessionStorage.setItem(ENGINE_KEY, session.engine.name);
  else sessionStorage.removeItem(ENGINE_KEY);
  return session.engine;
}

export async function loadSpec() {
  if (!session.spec) session.spec = await call("GET", "/openapi.json");
  return session.spec;
}

export function can(scope) {
  if (scope === null) return true; // public
  if (!session.who) return false;
  return scope === "any-token" || session.who.scopes.includes(scope);
}

// the scope an operation of the document needs: null when public
export function scopeOf(method, path) {
  const operation = session.spec?.paths?.[path]?.[method.toLowerCase()];
  if (!operation) return "admin";
  if (Array.isArray(operation.security) && operation.security.length === 0) return null;
  return operation["x-scope"] || "any-token";
}

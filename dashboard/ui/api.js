// The API client: JSON in and out, the key in X-API-Key, errors as ApiError.
// The key lives in session storage only: it goes when the tab closes.

const KEY = 'prp.key';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function key() {
  return sessionStorage.getItem(KEY) || '';
}

export function setKey(k) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
}

let onUnauthorized = () => {};
export function whenUnauthorized(fn) { onUnauthorized = fn; }

// One call. opts: {yaml: true} sends the body as application/yaml text,
// {signal} aborts it, {raw: true} returns the Response untouched.
async function call(method, path, body, opts = {}) {
  const headers = { 'Accept': 'application/json' };
  const k = key();
  if (k) headers['X-API-Key'] = k;
  let payload;
  if (body !== undefined) {
    if (opts.yaml) {
      headers['Content-Type'] = 'application/yaml';
      payload = body;
    } else {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, signal: opts.signal,
                              cache: 'no-store' });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `the aggregator did not answer (${e.message})`);
  }
  if (opts.raw) return res;
  const text = await res.text();
  let doc = null;
  try { doc = text ? JSON.parse(text) : null; } catch { /* not JSON: said below */ }
  if (!res.ok) {
    const err = doc && doc.error;
    const e = new ApiError(res.status, err ? err.code : 'http_' + res.status,
                           err ? err.message : `${method} ${path}: HTTP ${res.status}`, doc);
    if (res.status === 401 && path !== '/validate') onUnauthorized(e);
    throw e;
  }
  if (doc === null && text) throw new ApiError(res.status, 'not_json', `${path}: not JSON`);
  return doc;
}

export const api = {
  get: (path, opts) => call('GET', path, undefined, opts),
  post: (path, body, opts) => call('POST', path, body === undefined ? {} : body, opts),
  put: (path, body, opts) => call('PUT', path, body, opts),
  del: (path, opts) => call('DELETE', path, undefined, opts),
};

// A query string from an object, leaving out empty values.
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') p.set(k, v);
  }
  const s = p.toString();
  return s ? '?' + s : '';
}

// The console's calls to idvd: a session (a sealed HttpOnly cookie made from an API key), and
// AuditService/AdminService RPCs as JSON (proto field names), made by idvd with the session's key,
// so the console sees exactly what that client may see. Every call carries the CSRF token the
// session gave.

let csrf = '';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function send(method, path, body) {
  const headers = { 'X-CSRF-Token': csrf };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'same-origin',
  });
  const text = await r.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = { message: text };
  }
  if (!r.ok) throw new ApiError(r.status, data.code || String(r.status), data.message || r.statusText);
  return data;
}

// The current session ({client_id, tenant, roles, expires_at}), or null when signed out.
export async function currentSession() {
  try {
    const s = await send('GET', '/console/api/session');
    csrf = s.csrf_token;
    return s;
  } catch (e) {
    if (e.status === 401) return null;
    throw e;
  }
}

export async function signIn(apiKey) {
  const s = await send('POST', '/console/api/session', { api_key: apiKey });
  csrf = s.csrf_token;
  return s;
}

export async function signOut() {
  await send('DELETE', '/console/api/session');
  csrf = '';
}

// One RPC, e.g. rpc('AuditService', 'ListRecords', {filter: {...}}).
export function rpc(service, method, request = {}) {
  return send('POST', `/console/api/rpc/idv.v1.${service}/${method}`, request);
}

// The audit export as a stream: calls onProgress(bytes, lines) as chunks arrive; returns a Blob.
export async function exportRecords(request, onProgress) {
  const r = await fetch('/console/api/export', {
    method: 'POST',
    headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
    body: JSON.stringify(request),
    credentials: 'same-origin',
  });
  if (!r.ok) {
    const data = await r.json().catch(() => ({}));
    throw new ApiError(r.status, data.code || String(r.status), data.message || r.statusText);
  }
  const reader = r.body.getReader();
  const parts = [];
  let bytes = 0;
  let lines = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    bytes += value.length;
    for (const b of value) if (b === 10) lines++;
    onProgress(bytes, lines);
  }
  return new Blob(parts, { type: request.format === 'CSV' ? 'text/csv' : 'application/x-ndjson' });
}

// idvd's Prometheus metrics, parsed: [{name, labels, value}].
export async function metrics() {
  const r = await fetch('/metrics', { credentials: 'same-origin' });
  const text = await r.text();
  const out = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(.*)\})?\s+(\S+)/);
    if (!m) continue;
    const labels = {};
    if (m[3]) for (const l of m[3].matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return out;
}

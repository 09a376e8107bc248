/* The builder's one way to the server: /api/v1 with the browser's session.
 *
 * The API takes the session cookie, wants the CSRF token on unsafe methods and the tenant in
 * the X-Tenant header (circuits/web/api/authentication.py). Every error answer is an RFC 9457
 * problem ({title, status, detail, errors?}); `problemText` turns one into a line for a banner,
 * so no module formats errors its own way.
 *
 *   import { createApi } from './api.js';
 *   const api = createApi({ tenant: 'acme' });
 *   const res = await api.get(`circuits/${slug}/draft`);
 *   if (!res.ok) flash(problemText(res.json), 'bad');
 */

export const API_ROOT = '/api/v1/';

export function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  if (match) return decodeURIComponent(match[1]);
  try {
    return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRFToken'] || '';
  } catch (e) {
    return '';
  }
}

/** One line (or a few) a person can read, from a problem+json body or a fallback. */
export function problemText(json, fallback = 'The request failed.') {
  if (!json || typeof json !== 'object') return fallback;
  if (json.errors && typeof json.errors === 'object' && Object.keys(json.errors).length) {
    return Object.entries(json.errors)
      .map(([field, msgs]) => {
        const text = Array.isArray(msgs) ? msgs.map((m) => (typeof m === 'string' ? m : JSON.stringify(m))).join(' ') : String(msgs);
        return field === '__all__' || field === 'non_field_errors' ? text : `${field}: ${text}`;
      })
      .join('\n');
  }
  return json.detail || json.title || fallback;
}

/**
 * A client bound to one tenant. Paths are relative to /api/v1/ unless they start with '/'.
 * Answers {status, ok, json, text}; a network failure answers status 0 instead of throwing,
 * so callers handle one shape.
 */
export function createApi({ tenant, root = API_ROOT }) {
  async function request(method, path, body, { signal, headers: extra } = {}) {
    const url = path.startsWith('/') ? path : root + path;
    const headers = { Accept: 'application/json', 'X-Tenant': tenant, ...(extra || {}) };
    if (method !== 'GET' && method !== 'HEAD') headers['X-CSRFToken'] = csrfToken();
    let payload;
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', signal });
    } catch (err) {
      if (err && err.name === 'AbortError') throw err;
      return { status: 0, ok: false, json: { title: 'Network error', detail: 'The server could not be reached.' }, text: '' };
    }
    const type = response.headers.get('Content-Type') || '';
    let json = null;
    let text = '';
    if (type.includes('json')) {
      try { json = await response.json(); } catch (e) { json = null; }
    } else {
      text = await response.text();
    }
    return { status: response.status, ok: response.ok, json, text };
  }
  return {
    tenant,
    request,
    get: (path, opts) => request('GET', path, undefined, opts),
    post: (path, body, opts) => request('POST', path, body === undefined ? {} : body, opts),
    put: (path, body, opts) => request('PUT', path, body, opts),
    patch: (path, body, opts) => request('PATCH', path, body, opts),
    del: (path, opts) => request('DELETE', path, undefined, opts),
  };
}

/* Small helpers every builder module shares: the page's data, DOM lookups, the banner, the
 * API client bound to this tenant and circuit.
 *
 * The builder talks to the server only through /api/v1 (static/builder/api.js) and the htmx
 * partials the server renders (node form, trigger form, versions list, diff).
 */
import { createApi, problemText } from './api.js';

export const DATA = JSON.parse(document.getElementById('builder-data').textContent);
export const CAN = DATA.perms;
export const URLS = DATA.urls; // the htmx partials and page links (no JSON endpoints)
export const ACTIONS = Object.fromEntries(DATA.actions.map((a) => [a.name, a]));
export const TRIGGER = 'trigger';
export const container = document.getElementById('drawflow');
export const $ = (sel, root) => (root || document).querySelector(sel);
export const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
export const G = window.CircuitGraph; // static/builder/graph.js: what the execution page draws the same way
export const esc = G.esc;

export const api = createApi({ tenant: DATA.tenant });
/** This circuit's address in the API, e.g. `${CIRCUIT}draft`. */
export const CIRCUIT = `circuits/${encodeURIComponent(DATA.circuit.slug)}/`;

/** One line for a banner from a problem+json answer. */
export function errorText(json, fallback) {
  return problemText(json, fallback);
}
export function actionMeta(name) {
  return ACTIONS[name] || { name, label: name, category: 'unknown', description: 'Unknown action', ports: ['next', 'error'] };
}
export function pretty(value) {
  if (value === undefined) return '';
  try { return JSON.stringify(value, null, 2); } catch (e) { return String(value); }
}
export function short(value) {
  const text = JSON.stringify(value);
  return text && text.length > 60 ? text.slice(0, 57) + '…' : text || '';
}
let flashTimer = null;
export function flash(message, kind) {
  const box = $('#flash');
  box.textContent = message;
  box.className = 'banner ' + (kind === 'bad' ? 'banner-bad' : kind === 'ok' ? 'banner-ok' : '');
  box.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { box.hidden = true; }, kind === 'bad' ? 9000 : 4000);
}
export function setBadge(version) {
  $('#version-badge').textContent = version ? `v${version.number} · ${version.status}` : 'new';
}
export function setSaveState(text, kind) {
  const el = $('#save-state');
  el.textContent = text;
  el.dataset.state = kind || '';
}
export function openDialog(id) {
  const dialog = $(id);
  dialog.showModal();
  return dialog;
}
/** A `document` event other modules (expression editor, canvas tools) listen to. */
export function emit(name, detail) {
  document.dispatchEvent(new CustomEvent(name, { detail }));
}

// htmx: a 400 answer carries the form with its errors, so swap it like a 200.
if (window.htmx) {
  window.htmx.config.responseHandling = [
    { code: '204', swap: false },
    { code: '[23]..', swap: true },
    { code: '400', swap: true, error: false },
    { code: '[45]..', swap: false, error: true },
    { code: '...', swap: false },
  ];
}

/* What the expression editor asks the server: the paths to complete and live previews.
 *
 * Both come from /api/v1/circuits/<slug>/expressions/… (circuits/web/api/views/expressions.py),
 * rendered against the circuit's newest test run. Paths are cached per step and per test run:
 * a new run (window.circuitBuilder.run.id) fetches them again.
 */
import { createApi } from 'builder/api';

const DATA = JSON.parse(document.getElementById('builder-data').textContent);
const api = createApi({ tenant: DATA.tenant });
const base = `circuits/${encodeURIComponent(DATA.circuit.slug)}/expressions/`;
const ROOTS = [
  { path: 'trigger', type: 'object', sample: "the trigger's payload" },
  { path: 'steps', type: 'object', sample: 'earlier steps: steps.<key>.output' },
  { path: 'vars', type: 'object', sample: 'variables set by Set Variable steps' },
];

export const canEdit = !!(DATA.perms && DATA.perms.edit);

function runId() {
  const builder = window.circuitBuilder;
  return builder && builder.run ? builder.run.id : DATA.last_test_execution;
}

const pathCache = new Map(); // "node|run" → Promise<paths>

/** [{path, type, sample?}] the expression of `node` can read, the roots always among them. */
export function pathsFor(node) {
  const cacheKey = `${node || ''}|${runId() || ''}`;
  if (!pathCache.has(cacheKey)) {
    const query = node ? `?node=${encodeURIComponent(node)}` : '';
    const promise = api.get(base + 'paths' + query).then((res) => {
      const found = res.ok && res.json ? res.json.paths : [];
      const known = new Set(found.map((p) => p.path));
      return [...ROOTS.filter((r) => !known.has(r.path)), ...found];
    });
    promise.then((paths) => { if (!paths.length) pathCache.delete(cacheKey); });
    pathCache.set(cacheKey, promise);
  }
  return pathCache.get(cacheKey);
}

/** {value, type} | {error: {message, kind, start, end, line}} | null (the request itself failed). */
export async function preview(expression, node, signal) {
  const body = { expression };
  if (node) body.node = node;
  const res = await api.post(base + 'preview', body, { signal });
  if (res.ok && res.json) return res.json;
  const detail = res.json && (res.json.errors ? Object.values(res.json.errors).flat().join(' ') : res.json.detail);
  return { failed: detail || 'The preview could not be computed.' };
}

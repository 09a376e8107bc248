/* The draft document and its undo history: the model of the steps (specs, ports, order), the
 * selection, autosave to /api/v1 (PUT circuits/<slug>/draft with the revision it started
 * from: someone else's newer save is a 409, never overwritten), and adopting what the server
 * holds (after a roll back, an import).
 *
 * The document ({nodes, edges}) is derived from the canvas after every change and pushed on
 * the undo stack; undo/redo re-render the canvas from a document.
 */
import { $, CAN, CIRCUIT, DATA, TRIGGER, api, errorText, flash, setBadge, setSaveState } from './util.js';
import { currentDoc, editor, isRendering, render, triggerPos } from './canvas.js';
import { clearPanel, loadPanel, showProblems, validate } from './panels.js';

// key → {key, action, label, config, retry, timeout_seconds, on_error, pinned}; ports: key → output
// port names in Drawflow output order; order: node keys in document order.
export const model = { specs: new Map(), ports: {}, order: [], selected: null, problems: [], triggers: DATA.triggers.slice() };
// --- history and autosave -------------------------------------------------------------------
export const history = [];
export const future = [];
export let revision = DATA.revision;
export let lastSaved = null;
export let saveTimer = null;
export let saving = null;
export let conflict = false;

export function snapshot() {
  return JSON.stringify(currentDoc());
}
export function updateHistoryButtons() {
  if ($('#btn-undo')) $('#btn-undo').disabled = history.length < 2;
  if ($('#btn-redo')) $('#btn-redo').disabled = future.length === 0;
}
// A port with a connection shows its "+" only while its step is hovered or selected.
export function markConnectedPorts() {
  for (const node of Object.values(editor.drawflow.drawflow.Home.data)) {
    for (const [outputClass, output] of Object.entries(node.outputs)) {
      const el = $(`#node-${node.id} .outputs .${outputClass}`);
      if (el) el.classList.toggle('is-connected', output.connections.length > 0);
    }
  }
}
export function commit() {
  if (isRendering()) return;
  markConnectedPorts();
  const snap = snapshot();
  if (history.length && history[history.length - 1] === snap) return;
  history.push(snap);
  if (history.length > 200) history.shift();
  future.length = 0;
  updateHistoryButtons();
  $('#canvas-hint').hidden = model.order.length > 0;
  scheduleSave();
}
export let commitQueued = false;
export function commitSoon() {
  if (commitQueued) return;
  commitQueued = true;
  queueMicrotask(() => { commitQueued = false; commit(); });
}
export function undo() {
  if (!CAN.edit || history.length < 2) return;
  future.push(history.pop());
  render(JSON.parse(history[history.length - 1]), triggerPos());
  updateHistoryButtons();
  reselect();
  scheduleSave();
}
export function redo() {
  if (!CAN.edit || !future.length) return;
  const snap = future.pop();
  history.push(snap);
  render(JSON.parse(snap), triggerPos());
  updateHistoryButtons();
  reselect();
  scheduleSave();
}
export function reselect() {
  if (model.selected && (model.selected === TRIGGER || model.specs.has(model.selected))) loadPanel(model.selected);
  else clearPanel();
}

export function scheduleSave() {
  if (!CAN.edit || conflict) return;
  if (snapshot() === lastSaved) { // e.g. undone back to what is saved: nothing to send
    clearTimeout(saveTimer);
    if (!saving) setSaveState('All changes saved', 'ok');
    return;
  }
  setSaveState('Unsaved changes…', 'dirty');
  clearTimeout(saveTimer);
  saveTimer = setTimeout(() => { save(); }, 800);
}
export async function save() {
  clearTimeout(saveTimer);
  if (!CAN.edit || conflict) return false;
  if (saving) { await saving; return save(); }
  const snap = snapshot();
  if (snap === lastSaved) { setSaveState('All changes saved', 'ok'); return true; }
  setSaveState('Saving…', 'saving');
  saving = (async () => {
    try {
      const res = await api.put(`${CIRCUIT}draft`, { ...JSON.parse(snap), base_revision: revision });
      if (res.status === 409) {
        conflict = true;
        $('#conflict-message').textContent = (res.json && res.json.detail) || 'Someone else changed this draft. Reload to see their changes.';
        $('#conflict-banner').hidden = false;
        setSaveState('Not saved: conflict', 'bad');
        return false;
      }
      if (!res.ok) {
        setSaveState('Not saved', 'bad');
        flash(errorText(res.json, `Saving failed (${res.status}).`), 'bad');
        return false;
      }
      revision = res.json.revision;
      lastSaved = snap;
      setSaveState('All changes saved', 'ok');
      // After an undo the dynamic ports (switch cases, branches) follow the config again.
      const stale = Object.entries(res.json.ports || {}).filter(([k, v]) => JSON.stringify(model.ports[k]) !== JSON.stringify(v));
      if (stale.length && snapshot() === snap) {
        for (const [k, v] of stale) model.ports[k] = v;
        render(JSON.parse(snap), triggerPos());
      }
      setBadge({ number: res.json.number, status: 'draft' });
      const checked = await api.post(`${CIRCUIT}draft/validate`);
      if (checked.ok) res.json.errors = checked.json.errors;
      showProblems(res.json.errors || []);
      return true;
    } catch (err) {
      setSaveState('Offline: not saved', 'bad');
      return false;
    } finally {
      saving = null;
    }
  })();
  const ok = await saving;
  if (ok && snapshot() !== lastSaved) scheduleSave();
  return ok;
}
window.addEventListener('beforeunload', (event) => {
  if (CAN.edit && !conflict && lastSaved !== null && snapshot() !== lastSaved) {
    event.preventDefault();
    event.returnValue = '';
  }
});

/**
 * Show what the server holds now (after a roll back, an import, or a module that changed the
 * draft): its graph on the canvas, its revision for the next save, and a fresh undo history,
 * so no edit is made on top of a stale graph. `version` is an API version (number, status,
 * revision, nodes, edges, ports); `revision` 0 says there is no draft (the next change starts one).
 */
export function applyDocument(version, { revision: next, saved = true } = {}) {
  const ports = version.ports || {};
  const doc = { nodes: version.nodes.map((n) => ({ ...n, ports: ports[n.key] || n.ports })), edges: version.edges };
  clearTimeout(saveTimer);
  render(doc, triggerPos());
  if (next !== undefined) revision = next;
  else if (version.status === 'draft') revision = version.revision;
  history.length = 0;
  future.length = 0;
  history.push(snapshot());
  lastSaved = saved ? history[0] : null;
  updateHistoryButtons();
  if (version.number) setBadge({ number: version.number, status: version.status });
  setSaveState(saved ? 'All changes saved' : 'Unsaved changes…', saved ? 'ok' : 'dirty');
  reselect();
  if (!saved) scheduleSave();
}
/** A module's edit of the graph (paste, delete or move several steps): redrawn as ONE undo step, autosaved. */
export function changeDocument(doc) {
  if (!CAN.edit) return;
  render(doc, triggerPos());
  commit();
  reselect();
}
/** Re-read the circuit's current state from the API: its draft if it has one, else the published version. */
export async function reloadDocument() {
  const circuit = await api.get(CIRCUIT.slice(0, -1));
  if (!circuit.ok) { flash(errorText(circuit.json, `Could not read the circuit (${circuit.status}).`), 'bad'); return null; }
  const { draft_revision: draft, published_version: published } = circuit.json;
  if (!draft && !published) return null;
  const res = await api.get(draft ? `${CIRCUIT}draft` : `${CIRCUIT}versions/${published}`);
  if (!res.ok) { flash(errorText(res.json, `Could not read the circuit's graph (${res.status}).`), 'bad'); return null; }
  applyDocument(res.json, { revision: draft ? res.json.revision : 0 });
  return res.json;
}
/** Save an imported document as the draft (the server checks it and answers each node's ports). */
export async function saveImported(imported) {
  const res = await api.put(`${CIRCUIT}draft`, { ...imported, base_revision: revision });
  if (!res.ok) return res;
  revision = res.json.revision;
  for (const n of imported.nodes) n.ports = (res.json.ports || {})[n.key];
  const checked = await api.post(`${CIRCUIT}draft/validate`);
  model.problems = checked.ok ? checked.json.errors : [];
  render(imported);
  lastSaved = snapshot();
  commit(); // on the undo stack: undo brings the old steps back
  setBadge({ number: res.json.number, status: 'draft' });
  return res;
}
export function getRevision() { return revision; }
/** Publishing turned the draft into the published version: the next change starts a new draft. */
export function draftPublished() { revision = 0; }
export function isSaved() { return !conflict && snapshot() === lastSaved; }
/** The starting point: the document the page was rendered with. */
export function startDocument() {
  render({ nodes: DATA.document.nodes.map((n) => ({ ...n, ports: DATA.ports[n.key] })), edges: DATA.document.edges });
  history.push(snapshot());
  lastSaved = history[0];
  updateHistoryButtons();
}

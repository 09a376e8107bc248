/* Test runs: start one (with a payload, a listened-for webhook call, or one step alone), watch
 * it live on the page's shared socket (window.CircuitLive, static/pages/live.js), re-run from
 * a step. Each update is dispatched as a `builder:run` document event.
 */
import { $, $$, CAN, CIRCUIT, DATA, G, TRIGGER, URLS, actionMeta, api, container, emit, errorText, esc, flash, openDialog, pretty, short } from './util.js';
import { model } from './document.js';
import { currentDoc, idOf } from './canvas.js';
import { flushAll, renderNodeData, select, showProblems, showTab } from './panels.js';

// --- test runs: start, watch live, re-run from a step ---------------------------------------------
export let run = { id: DATA.last_test_execution, status: null, steps: {}, detail: null };
export function getRun() { return run; }

export function setNodeRun(key, status) {
  const id = idOf.get(key);
  if (id != null) G.setRunState($(`#node-${id}`), status);
}
export function reapplyRunState() {
  for (const [key, step] of Object.entries(run.steps)) setNodeRun(key, step.status);
  if (run.detail) showNodeIO();
  showTaken();
}
// After a run, the connections it went along are highlighted (cleared when the next starts).
export function showTaken() {
  const over = run.detail && G.FINISHED.includes(run.detail.status);
  const edges = currentDoc().edges;
  const taken = over ? G.takenEdges(edges, run.detail.steps, (key) => model.specs.has(key) && actionMeta(model.specs.get(key).action).container) : null;
  G.markTaken(container, idOf, model.ports, edges, taken);
}
export function mergeStep(step) {
  // A node that ran in several loop iterations shows its worst/latest state.
  const prev = run.steps[step.node];
  if (prev && prev.status === 'failed' && step.status !== 'running') return;
  run.steps[step.node] = { ...(prev || {}), ...step };
  setNodeRun(step.node, step.status);
}
/** Follow a test run: its steps light up live (the page's one socket, static/pages/live.js). */
export function watch(executionId) {
  run = { id: executionId, status: 'queued', steps: {}, detail: null };
  showTaken();
  for (const key of model.order) setNodeRun(key, 'pending');
  setNodeRun(TRIGGER, 'succeeded');
  $$('.node-io').forEach((el) => { el.hidden = true; el.textContent = ''; });
  renderRunPanel();
  // Events before this point were not for a run this page knew: read what it did so far.
  loadRunDetail();
}
export const OVER = ['succeeded', 'failed', 'cancelled'];
export function onLiveEvent(event) {
  if (!run.id || event.execution !== run.id) return;
  if (event.kind === 'step.started' || event.kind === 'step.finished' || event.kind === 'step.waiting') {
    mergeStep(event);
    if (run.status === 'queued') run.status = 'running';
  } else if (event.kind === 'execution.started') {
    run.status = 'running';
  } else if (event.kind === 'execution.waiting') {
    run.status = 'waiting';
  } else if (event.kind === 'execution.finished') {
    finished(event);
  } else {
    return;
  }
  renderRunPanel();
}
/** Listen on the page's shared live socket (no socket of the builder's own). */
export function listenLive() {
  const live = window.CircuitLive;
  if (!live) return false;
  live.on(onLiveEvent);
  // The stream has no replay: after a drop, the database says what was missed.
  live.onReconnect(() => { if (run.id && !OVER.includes(run.status)) loadRunDetail(); });
  return true;
}
export async function finished(event) {
  run.status = event.status;
  run.error = event.error;
  for (const key of model.order) if (!run.steps[key]) setNodeRun(key, 'skipped');
  await loadRunDetail();
  flash(`Test run ${run.id} ${event.status}.`, event.status === 'succeeded' ? 'ok' : 'bad');
}
/** An API step run in the shape the panels read: `node` for its key, `pinned` when pinned data stood in. */
export function stepView(s) {
  return { ...s, node: s.node_key, pinned: (s.logs || []).some((entry) => entry && (entry.pinned || entry.given)) };
}
export let detailReads = 0;
export async function loadRunDetail() {
  if (!run.id) return;
  const id = run.id;
  const read = ++detailReads;
  const res = await api.get(`executions/${id}`);
  if (!res.ok || run.id !== id || read !== detailReads) return; // a newer read (or run) has the last word
  run.detail = { ...res.json, steps: res.json.steps.map(stepView) };
  const over = OVER.includes(res.json.status);
  // A finished run's stored steps are the last word: a cancel closes waiting steps without
  // a step event, so only they say "cancelled".
  if (over || !Object.keys(run.steps).length) {
    for (const s of run.detail.steps) mergeStep(s);
    if (over) for (const key of model.order) if (!run.steps[key]) setNodeRun(key, 'skipped');
  }
  if (over || !OVER.includes(run.status)) run.status = res.json.status;
  showNodeIO();
  showTaken();
  renderRunPanel();
}
export function stepsOf(key) {
  return run.detail ? run.detail.steps.filter((s) => s.node === key) : [];
}
export function showNodeIO() {
  for (const key of model.order) {
    const id = idOf.get(key);
    const box = id != null && $(`#node-${id} .node-io`);
    if (!box) continue;
    const steps = stepsOf(key);
    const last = steps[steps.length - 1];
    if (!last) { box.hidden = true; continue; }
    box.hidden = false;
    box.textContent = last.status === 'failed' && last.error ? `✗ ${last.error.message}` : `in ${short(last.input)} → out ${short(last.output)}`;
  }
}
export function renderRunPanel() {
  drawRunPanel();
  renderNodeData();
  emit('builder:run', run);
}
export function drawRunPanel() {
  const panel = $('#panel-run');
  if (!run.id) {
    panel.innerHTML = '<p class="muted">Start a test run to see each step\'s input and output here.</p>';
    return;
  }
  const status = run.status || 'queued';
  let html = `<div class="run-head"><h2>Test run #${run.id}</h2> <span class="badge ${esc(status)}" id="run-status">${esc(status)}</span>
    <a href="${esc(URLS.execution_page + run.id + '/')}" id="run-link">Open the execution page</a></div>`;
  if (run.detail && run.detail.error) html += `<p class="error">${esc(run.detail.error.message)}</p>`;
  const key = model.selected && model.selected !== TRIGGER ? model.selected : null;
  if (key) {
    const steps = stepsOf(key);
    html += `<h3>Step <code>${esc(key)}</code></h3>`;
    if (!steps.length) {
      html += `<p class="muted">${run.steps[key] ? esc(run.steps[key].status) : 'This step did not run.'}</p>`;
    }
    for (const s of steps) {
      html += `<div class="step-run step-${esc(s.status)}"><p><span class="badge ${esc(s.status)}">${esc(s.status)}</span>${s.scope ? ` <small>${esc(s.scope)}</small>` : ''} attempt ${s.attempt}${s.pinned ? ' · pinned data' : ''}${s.duration_ms != null ? ` · ${Math.round(s.duration_ms)} ms` : ''}${s.port ? ` · port <code>${esc(s.port)}</code>` : ''}</p>
        ${s.error ? `<p class="error step-error">${esc(s.error.message)}</p>` : ''}
        <details open><summary>Input</summary><pre class="json step-input">${esc(pretty(s.input))}</pre></details>
        <details open><summary>Output</summary><pre class="json step-output">${esc(pretty(s.output))}</pre></details>
        ${s.logs && s.logs.length ? `<details><summary>Logs (${s.logs.length})</summary><pre class="json">${esc(s.logs.map((l) => `[${l.level}] ${l.message}`).join('\n'))}</pre></details>` : ''}</div>`;
    }
    if (CAN.run && run.detail && ['succeeded', 'failed', 'cancelled'].includes(run.status)) {
      html += `<button type="button" id="btn-rerun-step" data-node="${esc(key)}">Re-run from this step</button>
        <p class="helptext">Keeps the results of the steps before it from run #${run.id} and runs this step and the rest again, with the draft as it is now.</p>`;
    }
  } else if (run.detail) {
    html += '<p class="muted">Select a step to see its input and output.</p><ul class="run-steps">' +
      run.detail.steps.map((s) => `<li><button type="button" class="linklike" data-goto="${esc(s.node)}">${esc(s.node)}</button>${s.scope ? ` <small>${esc(s.scope)}</small>` : ''} <span class="badge ${esc(s.status)}">${esc(s.status)}</span></li>`).join('') + '</ul>';
    html += `<details><summary>Trigger payload</summary><pre class="json">${esc(pretty(run.detail.input))}</pre></details>`;
    if (run.detail.output !== null) html += `<details open><summary>Execution output</summary><pre class="json">${esc(pretty(run.detail.output))}</pre></details>`;
  }
  panel.innerHTML = html;
}
$('#panel-run').addEventListener('click', async (event) => {
  const go = event.target.closest('[data-goto]');
  if (go) { select(go.dataset.goto, true); showTab('run'); return; }
  const btn = event.target.closest('#btn-rerun-step');
  if (!btn) return;
  btn.disabled = true;
  await flushAll();
  const res = await api.post(`executions/${run.id}/rerun-from-step`, { node: btn.dataset.node });
  if (!res.ok) {
    btn.disabled = false;
    if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
    flash(errorText(res.json, `Could not re-run (${res.status}).`), 'bad');
    return;
  }
  watch(res.json.id);
  showTab('run');
});

// The test payload starts as the last one tested here, else a sample set on the trigger,
// else one of the shape the circuit's trigger sends (a webhook's {body, query, headers}).
export function samplePayload() {
  const stored = localStorage.getItem(`circuitos.payload.${DATA.circuit.slug}`);
  if (stored) return stored;
  const withSample = model.triggers.find((t) => t.config && t.config.sample_payload);
  if (withSample) return pretty(withSample.config.sample_payload);
  const shaped = model.triggers.find((t) => t.sample);
  return pretty(shaped ? shaped.sample : {});
}
export async function lastRealPayload() {
  const list = await api.get(`executions?circuit=${encodeURIComponent(DATA.circuit.slug)}&is_test=false&page_size=1`);
  if (!list.ok) return { error: `Could not read the executions (${list.status}).` };
  const newest = list.json.results[0];
  if (!newest) return { error: 'This circuit has no real execution yet: trigger it once (e.g. call its webhook URL), or type a payload.' };
  const detail = await api.get(`executions/${newest.id}`);
  if (!detail.ok) return { error: `Could not read execution ${newest.id} (${detail.status}).` };
  return { id: newest.id, payload: detail.json.input };
}
if ($('#btn-test')) {
  $('#btn-test').addEventListener('click', () => {
    $('#test-errors').textContent = '';
    $('#test-payload').value = samplePayload();
    const help = model.triggers.map((t) => t.payload_help).filter(Boolean);
    $('#test-shape').textContent = help.join(' ');
    $('#test-shape').hidden = !help.length;
    $('#test-listen').hidden = !model.triggers.some((t) => t.test_webhook_url);
    stopListening();
    openDialog('#test-dialog');
    $('#test-payload').focus();
  });
  $('#test-last-real').addEventListener('click', async () => {
    const button = $('#test-last-real');
    button.disabled = true;
    try {
      const found = await lastRealPayload();
      if (found.error) { $('#test-errors').textContent = found.error; return; }
      $('#test-errors').textContent = '';
      $('#test-payload').value = pretty(found.payload);
      flash(`The payload of execution ${found.id} is filled in.`);
    } finally {
      button.disabled = false;
    }
  });
  // "Listen for test event": the next call to the webhook's test URL runs the draft (the
  // server starts that test run); this page asks every second whether it came.
  $('#test-listen').addEventListener('click', async () => {
    const button = $('#test-listen');
    const status = $('#test-listen-status');
    if (listening) { stopListening(true); return; }
    $('#test-errors').textContent = '';
    await flushAll();
    const res = await api.post(`${CIRCUIT}test-runs/listen`);
    if (!res.ok) { $('#test-errors').textContent = errorText(res.json, `Could not listen (${res.status}).`); return; }
    listening = { id: res.json.listen, until: Date.now() + res.json.seconds * 1000 };
    button.textContent = 'Stop listening';
    status.hidden = false;
    status.innerHTML = `Waiting for a call to <code id="test-url">${esc(res.json.test_url)}</code> (POST, any JSON or form body)…`;
    pollListen(listening);
  });
  $('#test-dialog').addEventListener('close', () => stopListening(true));
  $('#test-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    let payload;
    try { payload = JSON.parse($('#test-payload').value || '{}'); } catch (e) {
      $('#test-errors').textContent = `The payload is not valid JSON: ${e.message}`;
      return;
    }
    const button = $('#test-start');
    button.disabled = true;
    try {
      await flushAll();
      const res = await api.post(`${CIRCUIT}test-runs`, { payload });
      if (!res.ok) {
        if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
        $('#test-errors').textContent = errorText(res.json, `The test run could not start (${res.status}).`);
        return;
      }
      localStorage.setItem(`circuitos.payload.${DATA.circuit.slug}`, $('#test-payload').value);
      $('#test-dialog').close();
      watch(res.json.id);
      showTab('run');
    } finally {
      button.disabled = false;
    }
  });
}

export let listening = null;
export function stopListening(tellServer) {
  const was = listening;
  listening = null;
  if ($('#test-listen')) $('#test-listen').textContent = 'Listen for test event';
  if ($('#test-listen-status')) $('#test-listen-status').hidden = true;
  if (was && tellServer) api.del(`${CIRCUIT}test-runs/listen?listen=${encodeURIComponent(was.id)}`);
}
export async function pollListen(current) {
  while (listening === current) {
    if (Date.now() > current.until) {
      stopListening(false);
      $('#test-errors').textContent = 'No test event came: listen again, then call the test URL.';
      return;
    }
    const res = await api.get(`${CIRCUIT}test-runs/listen?listen=${encodeURIComponent(current.id)}`);
    if (listening !== current) return;
    if (res.ok && res.json.execution) {
      listening = null;
      $('#test-dialog').close();
      watch(res.json.execution);
      showTab('run');
      flash(`A test event arrived: test run ${res.json.execution} started.`, 'ok');
      return;
    }
    if (res.ok && res.json.error) {
      stopListening(false);
      $('#test-errors').textContent = `A test event arrived but the draft could not run: ${res.json.error}`;
      return;
    }
    if (res.ok && res.json.waiting === false) {
      stopListening(false);
      $('#test-errors').textContent = 'Stopped listening (someone else started listening on this webhook).';
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}


/**
 * What a step run alone reads, from the last test run shown: its trigger payload, and the
 * outputs of the other steps that finished there (a pinned step keeps its pinned data).
 */
export function lastRunInput(key) {
  const detail = run.detail;
  if (!detail) return {};
  const steps = {};
  for (const s of detail.steps) {
    const spec = model.specs.get(s.node);
    if (s.node !== key && spec && !spec.pinned && !s.scope && s.status === 'succeeded') steps[s.node] = s.output;
  }
  return { trigger: detail.input, steps };
}
/**
 * Run one step alone (POST …/draft/nodes/<key>/run) with `input` ({trigger, steps, vars}),
 * by default what the last test run gave it; the result shows like any test run.
 */
export async function runNode(key, input) {
  if (!CAN.run || !model.specs.has(key)) return null;
  await flushAll();
  const res = await api.post(`${CIRCUIT}draft/nodes/${encodeURIComponent(key)}/run`, input || lastRunInput(key));
  if (!res.ok) {
    if (res.json && res.json.graph_errors) showProblems(res.json.graph_errors);
    flash(errorText(res.json, `Could not run ${key} (${res.status}).`), 'bad');
    return null;
  }
  watch(res.json.id);
  return res.json;
}

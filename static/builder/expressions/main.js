/* The expression editor's entry module (loaded by templates/builder/builder.html).
 *
 * It needs no hook in the builder's own modules: it watches the side panel. Whenever the server's node form
 * (#node-form, an htmx partial) appears or grows rows, every field marked `data-expr` becomes
 * an expression field (editor.js); whenever the node view (#step-data) is drawn, its JSON
 * becomes draggable (tree.js). The builder's own contract (window.circuitBuilder, the
 * builder:ready event) is only read, for the current test run.
 */
import { mountField } from 'builder/expressions/editor';
import { renderDraggable } from 'builder/expressions/tree';
import 'builder/expressions/rows';

const stepForm = document.getElementById('step-form');
const stepData = document.getElementById('step-data');

function mountForms() {
  const form = document.getElementById('node-form');
  if (!form) return;
  const nodeKey = () => form.dataset.key || null;
  form.querySelectorAll('[data-expr]').forEach((el) => mountField(el, { nodeKey }));
}

function ownMutation(record) {
  // Typing inside an editor changes its own DOM: nothing new to mount.
  const target = record.target.nodeType === 1 ? record.target : record.target.parentElement;
  return !!(target && target.closest('.expr-field, .expr-preview'));
}

let scheduled = false;
function soon(fn) {
  if (scheduled) return;
  scheduled = true;
  queueMicrotask(() => { scheduled = false; fn(); });
}

if (stepForm) {
  new MutationObserver((records) => { if (records.some((r) => !ownMutation(r))) soon(mountForms); })
    .observe(stepForm, { childList: true, subtree: true });
  mountForms();
}

// --- the node view: its input and output JSON, draggable ---------------------------------------
function basePath(pre) {
  if (pre.classList.contains('nv-input-value')) {
    const code = pre.closest('details') && pre.closest('details').querySelector('summary code');
    return code ? code.textContent.trim() : null;
  }
  const panel = document.getElementById('panel-step');
  const key = (document.getElementById('node-form') || {}).dataset?.key || (panel && panel.dataset.key);
  return key && key !== 'trigger' ? `steps.${key}.output` : null;
}

function upgradeTrees() {
  stepData.querySelectorAll('pre.nv-input-value, pre.nv-output-value, pre.nv-pinned').forEach((pre) => {
    if (pre.classList.contains('jt-tree')) return;
    const base = basePath(pre);
    if (!base) return;
    let value;
    try { value = JSON.parse(pre.textContent); } catch (e) { return; } // "(did not run)"
    renderDraggable(pre, value, base);
  });
}

if (stepData) {
  new MutationObserver(() => upgradeTrees()).observe(stepData, { childList: true, subtree: true });
  upgradeTrees();
}

document.documentElement.dataset.expressionEditor = 'ready';

/* One expression field: a CodeMirror 6 editor in place of a node form's textarea or input.
 *
 * The original element stays the form's value (htmx posts the form as before): every edit is
 * written back to it with an `input` event, and a value set on it from outside (a test's
 * fill(), a script) is read back into the editor. It stays in the layout under the editor,
 * transparent, so whatever looked for it still finds it.
 *
 * The editor marks `{{ … }}` / `{% … %}` and the names they read, completes trigger.…,
 * steps.<key>.output.…, vars.… from the last test run's real data, shows a live preview of the
 * rendered value under the field, and underlines the part an error is about.
 */
import { EditorState, StateEffect, StateField } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, keymap, placeholder as placeholderExt } from '@codemirror/view';
import { autocompletion, startCompletion } from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { pathsFor, preview } from 'builder/expressions/data';

const BLOCK = /\{\{[\s\S]*?(?:\}\}|$)|\{%[\s\S]*?(?:%\}|$)/g;
const ROOT = /(^|[^\w.])(trigger|steps|vars|loop|loops|execution|tenant)\b/g;
const PREVIEW_DELAY_MS = 300;
const views = new WeakMap(); // source element → its field

export function isTemplate(text) {
  return /\{\{|\{%/.test(text);
}

// --- highlighting ------------------------------------------------------------------------------
const exprMark = Decoration.mark({ class: 'cm-expr' });
const stmtMark = Decoration.mark({ class: 'cm-expr-stmt' });
const braceMark = Decoration.mark({ class: 'cm-expr-brace' });
const rootMark = Decoration.mark({ class: 'cm-expr-root' });

function highlight(doc) {
  const text = doc.toString();
  const marks = [];
  for (const m of text.matchAll(BLOCK)) {
    const from = m.index;
    const to = from + m[0].length;
    marks.push((m[0].startsWith('{{') ? exprMark : stmtMark).range(from, to));
    marks.push(braceMark.range(from, from + 2));
    const closed = m[0].endsWith('}}') || m[0].endsWith('%}');
    if (closed && to - 2 > from + 2) marks.push(braceMark.range(to - 2, to));
    const inner = m[0].slice(2, closed ? -2 : undefined);
    for (const r of inner.matchAll(ROOT)) {
      const start = from + 2 + r.index + r[1].length;
      marks.push(rootMark.range(start, start + r[2].length));
    }
  }
  return Decoration.set(marks, true);
}

const highlighter = ViewPlugin.fromClass(class {
  constructor(view) { this.decorations = highlight(view.state.doc); }
  update(update) { if (update.docChanged) this.decorations = highlight(update.state.doc); }
}, { decorations: (plugin) => plugin.decorations });

// --- the error underline -------------------------------------------------------------------------
const setError = StateEffect.define();
const errorMark = Decoration.mark({ class: 'cm-expr-error', attributes: { 'aria-invalid': 'true' } });
const errorField = StateField.define({
  create: () => Decoration.none,
  update(marks, tr) {
    marks = marks.map(tr.changes);
    for (const effect of tr.effects) {
      if (effect.is(setError)) {
        const range = effect.value;
        const length = tr.state.doc.length;
        const from = range ? Math.max(0, Math.min(range.from, length)) : 0;
        const to = range ? Math.max(from, Math.min(range.to, length)) : 0;
        marks = range && to > from ? Decoration.set([errorMark.range(from, to)]) : Decoration.none;
      }
    }
    return marks;
  },
  provide: (field) => EditorView.decorations.from(field),
});

// --- autocomplete ---------------------------------------------------------------------------------
function insideExpression(before) {
  return before.lastIndexOf('{{') > before.lastIndexOf('}}') || before.lastIndexOf('{%') > before.lastIndexOf('%}');
}

function completionSource(nodeKey) {
  return async (context) => {
    const before = context.state.sliceDoc(0, context.pos);
    if (!insideExpression(before)) return null;
    const word = context.matchBefore(/[\w.[\]"']*$/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    const paths = await pathsFor(nodeKey());
    return {
      from: word.from,
      options: paths.map((p) => ({
        label: p.path,
        type: p.type === 'object' || p.type === 'array' ? 'namespace' : 'property',
        detail: p.type,
        info: p.sample !== undefined ? String(p.sample) : undefined,
      })),
      validFor: /^[\w.[\]"']*$/,
    };
  };
}

// --- single-line fields ------------------------------------------------------------------------------
const oneLine = EditorState.transactionFilter.of((tr) => {
  if (!tr.docChanged || tr.newDoc.lines <= 1) return tr;
  const text = tr.newDoc.toString().replace(/\r?\n/g, ' ');
  return [{ changes: { from: 0, to: tr.startState.doc.length, insert: text }, selection: { anchor: Math.min(tr.newSelection.main.head, text.length) } }];
});

// --- the field ---------------------------------------------------------------------------------------
export function mountField(source, { nodeKey }) {
  if (views.has(source)) return views.get(source);
  // A clone of a mounted field (a rows editor's "+ Add" copies its last row): drop the copy's editor.
  if (source.dataset.exprMounted && source.parentElement) {
    source.parentElement.querySelectorAll(':scope > .expr-field, :scope > .expr-preview').forEach((el) => el.remove());
  }
  const multiline = source.tagName === 'TEXTAREA' && source.dataset.expr !== 'line';
  const readOnly = source.disabled || source.readOnly;
  let wrap = source.parentElement;
  if (!wrap || !wrap.classList.contains('expr-wrap')) {
    wrap = document.createElement('div');
    wrap.className = 'expr-wrap';
    source.replaceWith(wrap);
    wrap.appendChild(source);
  }
  wrap.classList.toggle('is-multiline', multiline);
  source.classList.add('expr-source');
  source.dataset.exprMounted = '1';
  source.tabIndex = -1;
  const holder = document.createElement('div');
  holder.className = 'expr-field';
  const status = document.createElement('div');
  status.className = 'expr-preview';
  status.setAttribute('role', 'status');
  status.setAttribute('aria-live', 'polite');
  status.hidden = true;
  wrap.appendChild(holder);
  wrap.appendChild(status);

  let syncing = false;
  let timer = null;
  let pending = null;
  const label = source.id ? document.querySelector(`label[for="${CSS.escape(source.id)}"]`) : null;
  const extensions = [
    history(),
    keymap.of([...(multiline ? [] : [{ key: 'Enter', run: () => true }]), ...defaultKeymap, ...historyKeymap]),
    highlighter,
    errorField,
    autocompletion({ override: [completionSource(nodeKey)], activateOnTyping: true, icons: false }),
    EditorView.contentAttributes.of({
      'aria-label': source.getAttribute('aria-label') || (label ? label.textContent.trim() : source.name),
      'aria-describedby': [source.getAttribute('aria-describedby'), ''].filter(Boolean).join(' '),
      'data-expr-editor': source.name,
      spellcheck: 'false',
    }),
    EditorView.updateListener.of((update) => {
      if (!update.docChanged || syncing) return;
      source.value = update.state.doc.toString();
      // The form posts on input (htmx) and the builder marks it dirty: as if typed into the field.
      source.dispatchEvent(new Event('input', { bubbles: true }));
      schedulePreview();
    }),
    EditorView.domEventHandlers({
      focus: () => { schedulePreview(0); },
      keydown: (event, view) => {
        // `{{` opens the completion list at once.
        if (event.key === '{') setTimeout(() => { if (view.state.sliceDoc(view.state.selection.main.head - 2, view.state.selection.main.head) === '{{') startCompletion(view); });
        return false;
      },
    }),
  ];
  if (!multiline) extensions.push(oneLine);
  if (source.placeholder) extensions.push(placeholderExt(source.placeholder));
  if (readOnly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
  const view = new EditorView({ parent: holder, state: EditorState.create({ doc: source.value, extensions }) });

  function show(result) {
    status.hidden = false;
    status.classList.remove('is-error', 'is-ok', 'is-muted');
    if (result.error) {
      const e = result.error;
      status.classList.add('is-error');
      status.textContent = `${e.message}${e.line > 1 ? ` (line ${e.line})` : ''}`;
      status.dataset.kind = e.kind;
      view.dispatch({ effects: setError.of({ from: e.start, to: e.end }) });
      return;
    }
    view.dispatch({ effects: setError.of(null) });
    delete status.dataset.kind;
    if (result.failed) {
      status.classList.add('is-muted');
      status.textContent = result.failed;
      return;
    }
    status.classList.add('is-ok');
    const text = result.truncated ? result.value + '…' : typeof result.value === 'string' ? result.value : JSON.stringify(result.value);
    const parts = [
      Object.assign(document.createElement('span'), { className: 'expr-preview-label', textContent: '= ' }),
      Object.assign(document.createElement('code'), { className: 'expr-preview-value', textContent: text }),
    ];
    // The type where the text does not say it (null and true/false do).
    if (result.type !== 'null' && result.type !== 'boolean') parts.push(Object.assign(document.createElement('small'), { className: 'expr-preview-type', textContent: ` ${result.type}` }));
    if (!result.execution) parts.push(Object.assign(document.createElement('small'), { className: 'expr-preview-note', textContent: ' · no test run yet' }));
    status.replaceChildren(...parts);
    status.title = result.execution ? `Rendered with the data of test run #${result.execution}` : 'No test run yet: trigger, steps and vars are empty';
  }

  function schedulePreview(delay = PREVIEW_DELAY_MS) {
    clearTimeout(timer);
    const text = view.state.doc.toString();
    if (!isTemplate(text)) {
      if (pending) pending.abort();
      status.hidden = true;
      view.dispatch({ effects: setError.of(null) });
      return;
    }
    timer = setTimeout(async () => {
      if (pending) pending.abort();
      pending = new AbortController();
      const mine = pending;
      try {
        const result = await preview(text, nodeKey(), mine.signal);
        if (mine === pending && view.state.doc.toString() === text) show(result);
      } catch (err) {
        if (!err || err.name !== 'AbortError') show({ failed: 'The preview could not be computed.' });
      }
    }, delay);
  }

  // A value set on the element itself (not by this editor) is shown in the editor.
  source.addEventListener('input', () => {
    if (source.value === view.state.doc.toString()) return;
    syncing = true;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: source.value } });
    syncing = false;
    schedulePreview();
  });

  // The field's label focuses the editor, not the transparent element under it.
  if (label) label.addEventListener('click', (event) => { event.preventDefault(); view.focus(); });

  const field = { view, source, destroy() { clearTimeout(timer); if (pending) pending.abort(); view.destroy(); views.delete(source); } };
  views.set(source, field);
  return field;
}

export function fieldOf(source) {
  return views.get(source) || null;
}

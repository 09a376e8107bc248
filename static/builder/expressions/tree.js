/* The node view's JSON, with every key and value draggable into a parameter.
 *
 * `renderDraggable(pre, value, base)` fills a <pre> with exactly the text JSON.stringify(value,
 * null, 2) gives, but each key and scalar is a span carrying its expression path
 * (`steps.fetch.output.items[0].email`). Dragging one carries `{{ path }}` as text, which the
 * expression editor (CodeMirror) inserts at the drop point.
 */

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function joinPath(base, key) {
  if (typeof key === 'number') return `${base}[${key}]`;
  return IDENT.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

export function expressionFor(path) {
  return `{{ ${path} }}`;
}

function handle(text, path, className) {
  const span = document.createElement('span');
  span.className = `jt-drag ${className}`;
  span.textContent = text;
  span.draggable = true;
  span.dataset.path = path;
  span.title = `Drag into a parameter: ${expressionFor(path)}`;
  return span;
}

function build(out, value, path, indent) {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value) || (value && typeof value === 'object')) {
    const entries = Array.isArray(value) ? value.map((v, i) => [i, v]) : Object.entries(value);
    const [open, close] = Array.isArray(value) ? ['[', ']'] : ['{', '}'];
    if (!entries.length) { out.push(handle(open + close, path, 'jt-value')); return; }
    out.push(open + '\n');
    entries.forEach(([key, item], i) => {
      out.push(pad + '  ');
      const child = joinPath(path, key);
      if (!Array.isArray(value)) {
        out.push(handle(JSON.stringify(key), child, 'jt-key'));
        out.push(': ');
      }
      build(out, item, child, indent + 2);
      out.push(i < entries.length - 1 ? ',\n' : '\n');
    });
    out.push(pad + close);
    return;
  }
  out.push(handle(JSON.stringify(value === undefined ? null : value), path, 'jt-value'));
}

export function renderDraggable(pre, value, base) {
  const parts = [];
  build(parts, value, base, 0);
  pre.replaceChildren(...parts.map((p) => (typeof p === 'string' ? document.createTextNode(p) : p)));
  pre.classList.add('jt-tree');
  pre.dataset.base = base;
}

// One listener for every tree: what a drag carries.
document.addEventListener('dragstart', (event) => {
  const item = event.target.closest && event.target.closest('.jt-drag');
  if (!item) return;
  event.dataTransfer.setData('text/plain', expressionFor(item.dataset.path));
  event.dataTransfer.setData('application/x-circuit-path', item.dataset.path);
  event.dataTransfer.effectAllowed = 'copy';
});

/* The rows editors of list-shaped configs (an if's rules, a switch's cases): add and remove rows.
 *
 * The server renders the rows and a blank one (templates/builder/partials/field.html, kind
 * "rows") and parses them back by position (circuits/web/views/builder/schema_forms.py), so a
 * row is added by copying the last one empty and removed by taking it out; either way the
 * form is posted as after any edit. Each new row's value cells become expression fields when
 * the observer in main.js sees them.
 */

function changed(form) {
  // The builder marks the form dirty and htmx posts it on `change` (hx-trigger on the form).
  form.dispatchEvent(new Event('change', { bubbles: true }));
}

export function addRow(fieldset) {
  const list = fieldset.querySelector('.rows-list');
  const last = list.lastElementChild;
  const row = last.cloneNode(true);
  row.querySelectorAll('input').forEach((input) => { input.value = ''; });
  row.querySelectorAll('select').forEach((select) => { select.selectedIndex = 0; });
  const noun = fieldset.dataset.noun || 'row';
  row.setAttribute('aria-label', `${noun[0].toUpperCase()}${noun.slice(1)} ${list.children.length + 1}`);
  list.appendChild(row);
  return row;
}

export function removeRow(row) {
  const list = row.parentElement;
  const form = row.closest('form');
  if (list.children.length > 1) {
    row.remove();
  } else {
    row.querySelectorAll('input').forEach((input) => { input.value = ''; input.dispatchEvent(new Event('input', { bubbles: true })); });
    row.querySelectorAll('select').forEach((select) => { select.selectedIndex = 0; });
  }
  if (form) changed(form);
}

document.addEventListener('click', (event) => {
  const add = event.target.closest('[data-row-add]');
  const remove = event.target.closest('[data-row-remove]');
  if (!add && !remove) return;
  if (!event.target.closest('#node-form') || event.target.closest('fieldset[disabled]')) return;
  if (add) {
    const row = addRow(add.closest('[data-rows]'));
    requestAnimationFrame(() => {
      const first = row.querySelector('.cm-content, input:not(.expr-source), select');
      if (first) first.focus();
    });
  } else {
    removeRow(remove.closest('.rows-row'));
  }
});

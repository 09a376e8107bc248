/* Circuit OS builder: the entry module (loaded with <script type="module">, no bundler).
 *
 *   util.js      page data, DOM helpers, the /api/v1 client (api.js) bound to this tenant
 *   document.js  the draft model, undo/redo, autosave (PUT …/draft), applying a server version
 *   canvas.js    the Drawflow canvas, palette, layout, keyboard
 *   panels.js    step form and node view, problems, versions, publish, import
 *   runs.js      test runs, listening for a webhook test call, one step alone, live updates
 *
 * Other modules (expression editor, canvas tools) build on `window.circuitBuilder` and the
 * `builder:ready` (once, detail = circuitBuilder) and `builder:run` (each run update, detail
 * = the run state) document events; that contract is kept here.
 */
import { $, CAN, api, emit } from './util.js';
import { applyDocument, changeDocument, getRevision, model, redo, save, startDocument, undo } from './document.js';
import { addAction, autoLayout, cancelAddNext, currentDoc, editor, fit } from './canvas.js';
import { flushAll, select, setPinned, validate } from './panels.js';
import { getRun, listenLive, loadRunDetail, runNode, watch } from './runs.js';

// --- toolbar ---------------------------------------------------------------------------------------
const on = (id, fn) => { const el = $(id); if (el) el.addEventListener('click', fn); };
on('#btn-undo', undo);
on('#btn-redo', redo);
on('#btn-zoom-in', () => editor.zoom_in());
on('#btn-zoom-out', () => editor.zoom_out());
on('#btn-fit', () => fit());
on('#btn-layout', autoLayout);
on('#btn-validate', validate);
on('#btn-reload', () => { window.location.reload(); });
on('#add-next-cancel', cancelAddNext);

// --- start ---------------------------------------------------------------------------------------
startDocument();
if (model.order.length) requestAnimationFrame(() => fit(true));
// live.js runs before this module (both deferred, in document order); if it did not, it will by DOMContentLoaded.
if (!listenLive()) document.addEventListener('DOMContentLoaded', listenLive, { once: true });
if (getRun().id) loadRunDetail();

const circuitBuilder = {
  editor,
  currentDoc,
  save,
  flushAll,
  select,
  fit,
  applyDocument,
  changeDocument,
  setPinned,
  watch,
  runNode,
  addAction,
  api,
  model, // read it; change it through the functions above, so undo and autosave follow
  can: CAN,
  get revision() { return getRevision(); },
  get run() { return getRun(); },
  get selectedKey() { return model.selected; },
};
window.circuitBuilder = circuitBuilder;
emit('builder:ready', circuitBuilder);

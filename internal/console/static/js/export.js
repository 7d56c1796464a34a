// Export: the privacy requests created in a range of days, as one CSV file.
// The API answers a page of at most 1,000 rows, each page with its header
// row, and the next page's cursor in X-Next-Cursor; the pages are joined
// under one header. Each page is recorded in the access log.
import {apiText} from './api.js';
import {h, confirmDialog, field, download, STATUS} from './ui.js';

const PAGE_SIZE = 1000;
const MAX_DAYS = 366;
const DAY = 86_400_000;

const isoDay = (t) => new Date(t).toISOString().slice(0, 10);

// exportAll fetches every page of the export and joins them under the
// first page's header row (each later page's first line is the same header).
async function exportAll(params, progress) {
  let csv = '';
  let cursor = '';
  for (let page = 1; ; page++) {
    progress(page);
    const q = new URLSearchParams({...params, size: String(PAGE_SIZE)});
    if (cursor) q.set('cursor', cursor);
    const {text, headers} = await apiText(`/privacy-request/export?${q}`);
    csv += page === 1 ? text : text.slice(text.indexOf('\n') + 1);
    cursor = headers.get('X-Next-Cursor') || '';
    if (!cursor) return csv;
  }
}

export function exportDialog() {
  const from = h('input', {id: 'export-from', type: 'date', required: true});
  const to = h('input', {id: 'export-to', type: 'date', required: true});
  from.value = isoDay(Date.now() - 30 * DAY);
  to.value = isoDay(Date.now());
  const status = h('select', {id: 'export-status'}, h('option', {value: ''}, 'All statuses'),
    Object.entries(STATUS).map(([k, v]) => h('option', {value: k}, v)));
  const progress = h('p', {role: 'status', class: 'muted', id: 'export-progress'});
  return confirmDialog('Export privacy requests', [
    h('p', {}, 'One CSV file of the requests created in these days (UTC): id, status, policy, created, due date, decision, and each webhook’s state. No identity is exported. The export is recorded in the access log.'),
    h('div', {class: 'field-row'}, field('From', from), field('To (inclusive)', to)),
    field('Status', status),
    progress,
  ], 'Export CSV', async () => {
    const start = Date.parse(`${from.value}T00:00:00Z`);
    const end = Date.parse(`${to.value}T00:00:00Z`) + DAY;
    if (!(end > start)) throw new Error('“To” must be on or after “From”.');
    if (end - start > MAX_DAYS * DAY) throw new Error(`An export covers at most ${MAX_DAYS} days.`);
    const params = {created_from: new Date(start).toISOString(), created_to: new Date(end).toISOString()};
    if (status.value) params.status = status.value;
    const csv = await exportAll(params, (page) => { progress.textContent = `Fetching page ${page}…`; });
    download(`privacy-requests-${from.value}-to-${to.value}.csv`, 'text/csv', csv);
  });
}

// Policies: each one's execution timeframe, the days a request has before
// it is due. Editable with policy:create_or_update; a change applies to
// requests submitted afterwards.
import {api} from '../api.js';
import * as auth from '../auth.js';
import {h, mount, loading, empty, errorBox, notice, confirmDialog, field} from '../ui.js';

const MAX_DAYS = 365;

const timeframe = (days) => (days === null || days === undefined ? 'No deadline' : `${days} day${days === 1 ? '' : 's'}`);

function editDialog(p, reload) {
  const days = h('input', {id: 'policy-days', type: 'number', min: '1', max: String(MAX_DAYS), step: '1', inputmode: 'numeric', required: p.execution_timeframe !== null});
  days.value = p.execution_timeframe ?? '';
  const none = h('input', {type: 'checkbox', id: 'policy-none', checked: p.execution_timeframe === null, onchange: () => {
    days.disabled = none.checked;
    days.required = !none.checked;
  }});
  days.disabled = none.checked;
  return confirmDialog(`Timeframe of “${p.name}”`, [
    h('p', {}, 'The days a request of this policy has before it is due. A change applies to requests submitted from now on; requests already submitted keep their due date.'),
    field('Days', days, `1 to ${MAX_DAYS}.`),
    h('div', {class: 'check'}, none, h('label', {for: none.id}, 'No deadline')),
  ], 'Save', async () => {
    const res = await api('PATCH', '/dsr/policy', [{key: p.key, execution_timeframe: none.checked ? null : Number(days.value)}]);
    const failed = (res && res.failed) || [];
    if (failed.length) throw new Error(failed.map((f) => f.message).join('; '));
    reload(`“${p.name}”: ${timeframe(none.checked ? null : Number(days.value)).toLowerCase()} for requests submitted from now on.`);
  });
}

export async function policiesPage(main, ctx) {
  const body = h('div', {}, loading('policies'));
  mount(main, h('div', {class: 'page-head'}, h('h1', {}, 'Policies')),
    h('p', {class: 'muted'}, 'A request is due its policy’s execution timeframe after it is submitted. GDPR allows one month, extendable by two; CCPA 45 days, extendable by 45.'),
    ctx.note ? notice(ctx.note) : null,
    body);
  const reload = (note) => policiesPage(main, {...ctx, note});
  let page;
  try {
    page = await api('GET', '/dsr/policy?size=100');
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, () => reload()));
    return;
  }
  const items = page.items || [];
  if (items.length === 0) {
    mount(body, empty('No policies.'));
    return;
  }
  const canEdit = auth.can('policy:create_or_update');
  mount(body, h('table', {class: 'list', id: 'policies'},
    h('caption', {class: 'sr-only'}, 'Policies'),
    h('thead', {}, h('tr', {}, ['Name', 'Key', 'Action', 'Execution timeframe', canEdit ? '' : null].filter((c) => c !== null).map((c) =>
      h('th', {scope: 'col'}, c || h('span', {class: 'sr-only'}, 'Actions'))))),
    h('tbody', {}, items.map((p) => h('tr', {dataset: {key: p.key}},
      h('td', {'data-label': 'Name'}, p.name),
      h('td', {'data-label': 'Key', class: 'mono'}, p.key),
      h('td', {'data-label': 'Action'}, p.action),
      h('td', {'data-label': 'Execution timeframe', class: 'timeframe'}, timeframe(p.execution_timeframe)),
      canEdit ? h('td', {class: 'row-actions'}, h('button', {type: 'button', class: 'secondary small', 'aria-label': `Edit the timeframe of ${p.name}`,
        onclick: () => editDialog(p, reload)}, 'Edit')) : null)))));
}

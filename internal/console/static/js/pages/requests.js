// Privacy requests: newest first, filtered by status, cursor paging.
import {api} from '../api.js';
import {h, mount, loading, empty, errorBox, statusBadge, when, field, STATUS, WEBHOOK_STATE} from '../ui.js';

const FILTERS = ['pending', 'awaiting_pre_approval', 'pre_approval_not_eligible', 'approved', 'denied', 'identity_unverified'];
const PAGE_SIZE = 25;

function link(query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `#/requests?${s}` : '#/requests';
}

// webhookCounts shows how many of a request's webhooks are in each state.
function webhookCounts(webhooks) {
  if (!webhooks || webhooks.length === 0) return h('span', {class: 'muted'}, 'none');
  const counts = {};
  for (const w of webhooks) counts[w.state] = (counts[w.state] || 0) + 1;
  return h('ul', {class: 'counts'}, Object.keys(WEBHOOK_STATE).filter((s) => counts[s]).map((s) =>
    h('li', {class: `badge w-${s}`}, `${counts[s]} ${WEBHOOK_STATE[s].toLowerCase()}`)));
}

function identity(id) {
  if (!id) return '—';
  return [id.email, id.phone_number].filter(Boolean).join(' · ') || '—';
}

export async function requestsPage(main, {query}) {
  const status = query.get('status') || '';
  const cursor = query.get('cursor') || '';
  const select = h('select', {id: 'status-filter', onchange: (e) => { location.hash = link({status: e.target.value}); }},
    h('option', {value: ''}, 'All statuses'),
    FILTERS.map((s) => h('option', {value: s, selected: s === status}, STATUS[s])));
  const body = h('div', {}, loading('privacy requests'));
  mount(main,
    h('div', {class: 'page-head'}, h('h1', {}, 'Privacy requests'),
      h('form', {class: 'filters', onsubmit: (e) => e.preventDefault()}, field('Status', select))),
    body);

  let page;
  try {
    const q = new URLSearchParams({size: String(PAGE_SIZE)});
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    page = await api('GET', `/privacy-request?${q}`);
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, () => requestsPage(main, {query})));
    return;
  }
  const items = page.items || [];
  if (items.length === 0) {
    mount(body, empty(cursor ? 'No more requests.' : status ? `No requests are “${STATUS[status] || status}”.` : 'No privacy requests yet.'),
      cursor ? h('p', {}, h('a', {href: link({status})}, 'Back to the newest')) : null);
    return;
  }
  mount(body,
    h('table', {class: 'list', id: 'requests'},
      h('caption', {class: 'sr-only'}, 'Privacy requests, newest first'),
      h('thead', {}, h('tr', {}, ['Request', 'Status', 'Policy', 'Identity', 'Webhooks', 'Submitted'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, items.map((r) => h('tr', {dataset: {id: r.id}},
        h('td', {'data-label': 'Request'}, h('a', {href: `#/requests/${encodeURIComponent(r.id)}`, class: 'mono'}, r.id)),
        h('td', {'data-label': 'Status'}, statusBadge(r.status)),
        h('td', {'data-label': 'Policy'}, r.policy_key),
        h('td', {'data-label': 'Identity'}, identity(r.identity)),
        h('td', {'data-label': 'Webhooks'}, webhookCounts(r.webhooks)),
        h('td', {'data-label': 'Submitted'}, when(r.created_at)))))),
    h('nav', {class: 'pager', 'aria-label': 'Pages'},
      cursor ? h('a', {href: link({status}), class: 'button secondary'}, '« Newest') : null,
      page.next_cursor ? h('a', {href: link({status, cursor: page.next_cursor}), class: 'button secondary', id: 'older'}, 'Older »') : null));
}

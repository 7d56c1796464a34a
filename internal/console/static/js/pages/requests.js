// Privacy requests: newest first (or soonest due in the Due soon view),
// filtered by status, searched by identity, with cursor paging. Identities
// are masked. An admin who may review selects requests and decides them
// together: approve, deny with one reason, re-run pre-approval, extend.
import {api} from '../api.js';
import * as auth from '../auth.js';
import {decide, denyDialog, extendDialog} from '../decide.js';
import {exportDialog} from '../export.js';
import {h, mount, loading, empty, errorBox, notice, statusBadge, when, field, confirmDialog, daysLeft, maskEmail, maskPhone, maskExternalID,
  DUE_SOON_DAYS, STATUS, WEBHOOK_STATE} from '../ui.js';

const FILTERS = ['pending', 'awaiting_pre_approval', 'pre_approval_not_eligible', 'approved', 'denied', 'identity_unverified'];
const PAGE_SIZE = 25;
const MAX_IDENTITY = 320;

// The identity searched for lives here, never in the address bar (which
// history and screenshots keep).
let search = '';
// The outcome of the last decision on several requests, shown once.
let outcome = null;

function link(query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `#/requests?${s}` : '#/requests';
}

// webhookCounts shows how many of a request's webhooks are in each state;
// shadow webhooks, which decide nothing, are only counted apart.
function webhookCounts(webhooks) {
  if (!webhooks || webhooks.length === 0) return h('span', {class: 'muted'}, 'none');
  const counts = {};
  const counted = webhooks.filter((w) => w.mode !== 'shadow');
  for (const w of counted) counts[w.state] = (counts[w.state] || 0) + 1;
  const shadows = webhooks.length - counted.length;
  return h('ul', {class: 'counts'}, Object.keys(WEBHOOK_STATE).filter((s) => counts[s]).map((s) =>
    h('li', {class: `badge w-${s}`}, `${counts[s]} ${WEBHOOK_STATE[s].toLowerCase()}`)),
  shadows ? h('li', {class: 'badge m-shadow', title: 'Shadow webhooks are called and recorded, never counted'}, `${shadows} shadow`) : null);
}

// maskedIdentity is a request's identity as lists show it: masked.
export function maskedIdentity(r) {
  const parts = [];
  if (r.identity && r.identity.email) parts.push(maskEmail(r.identity.email));
  if (r.identity && r.identity.phone_number) parts.push(maskPhone(r.identity.phone_number));
  if (r.external_id) parts.push(maskExternalID(r.external_id));
  return parts.length ? h('span', {class: 'masked'}, parts.join(' · ')) : '—';
}

const VERBS = {
  approve: {button: 'Approve', done: 'approved', failed: 'could not be approved'},
  deny: {button: 'Deny', done: 'denied', failed: 'could not be denied'},
  retry: {button: 'Re-run pre-approval', done: 'sent to pre-approval again', failed: 'could not be sent to pre-approval again'},
  extend: {button: 'Extend deadline', done: 'given a later deadline', failed: 'could not be given a later deadline'},
};

// outcomePanel lists what became of each request of the last decision.
function outcomePanel({kind, succeeded, failed}) {
  const verb = VERBS[kind];
  const count = (n) => `${n} request${n === 1 ? '' : 's'}`;
  const rows = [
    ...succeeded.map((id) => h('li', {dataset: {id, outcome: 'ok'}}, h('a', {href: `#/requests/${encodeURIComponent(id)}`, class: 'mono'}, id), ': ', verb.done)),
    ...failed.map((f) => h('li', {dataset: {id: f.id, outcome: 'failed'}}, h('a', {href: `#/requests/${encodeURIComponent(f.id)}`, class: 'mono'}, f.id), ': ', h('strong', {}, f.message))),
  ];
  return h('section', {class: `outcome ${failed.length ? 'some-failed' : 'ok'}`, id: 'bulk-outcome', role: failed.length ? 'alert' : 'status', 'aria-label': 'Outcome'},
    h('p', {}, succeeded.length ? `${count(succeeded.length)} ${verb.done}.` : '',
      failed.length ? ` ${count(failed.length)} ${verb.failed}.` : ''),
    h('ul', {}, rows),
    h('button', {type: 'button', class: 'secondary small', onclick: (e) => e.target.closest('section').remove()}, 'Dismiss'));
}

export async function requestsPage(main, ctx) {
  const {query} = ctx;
  const status = query.get('status') || '';
  const cursor = query.get('cursor') || '';
  const view = query.get('view') === 'due' ? 'due' : '';
  const rerender = () => requestsPage(main, {query, draft: null});
  // go shows another list, or this one again when the address is the same.
  const go = (hash) => (location.hash === hash ? requestsPage(main, {query: new URLSearchParams(hash.split('?')[1] || '')}) : (location.hash = hash));

  const select = h('select', {id: 'status-filter', onchange: (e) => go(link({status: e.target.value, view}))},
    h('option', {value: ''}, 'All statuses'),
    FILTERS.map((s) => h('option', {value: s, selected: s === status}, STATUS[s])));
  // The value is set as a property, so the identity never enters the page's HTML.
  const box = h('input', {id: 'search', type: 'search', maxlength: String(MAX_IDENTITY), autocomplete: 'off', spellcheck: 'false'});
  box.value = search;
  const searchForm = h('form', {class: 'filters search', role: 'search', onsubmit: (e) => {
    e.preventDefault();
    search = box.value.trim();
    go(link({status, view}));
  }}, field('Search by identity', box, 'An exact email, phone number or external id'),
  h('button', {type: 'submit', class: 'secondary'}, 'Search'),
  search ? h('button', {type: 'button', class: 'secondary', id: 'clear-search', onclick: () => { search = ''; go(link({status, view})); }}, 'Clear') : null);
  const views = h('nav', {class: 'views', 'aria-label': 'Views'}, h('ul', {},
    h('li', {}, h('a', {href: link({status}), id: 'view-all', 'aria-current': view ? null : 'page'}, 'All requests')),
    h('li', {}, h('a', {href: link({status, view: 'due'}), id: 'view-due', 'aria-current': view ? 'page' : null}, 'Due soon'))));
  const body = h('div', {}, loading('privacy requests'));
  mount(main,
    h('div', {class: 'page-head'}, h('h1', {}, 'Privacy requests'), h('div', {class: 'head-tools'}, views,
      h('button', {type: 'button', class: 'secondary', id: 'export', onclick: () => exportDialog()}, 'Export CSV'))),
    h('div', {class: 'toolbar'}, searchForm, h('form', {class: 'filters', onsubmit: (e) => e.preventDefault()}, field('Status', select))),
    outcome ? outcomePanel(outcome) : null,
    body);
  outcome = null;

  let page;
  try {
    const q = new URLSearchParams({size: String(PAGE_SIZE)});
    if (status) q.set('status', status);
    if (cursor) q.set('cursor', cursor);
    if (search) q.set('identity', search);
    if (view) {
      q.set('due_before', new Date(Date.now() + DUE_SOON_DAYS * 86_400_000).toISOString());
      if (!status) q.set('open', 'true'); // a decided request is no longer due; a status chosen says what it wants
    }
    page = await api('GET', `/privacy-request?${q}`);
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, rerender));
    return;
  }
  const what = [view ? `${status ? '' : 'waiting for a decision, '}due within ${DUE_SOON_DAYS} days or overdue` : '', search ? 'of the identity searched for' : '',
    status ? `“${STATUS[status] || status}”` : ''].filter(Boolean).join(', ');
  const items = page.items || [];
  // A page can come empty with a cursor: a Due soon list of one status reads
  // a bounded part of the due dates per page.
  const next = page.next_cursor ? h('a', {href: link({status, view, cursor: page.next_cursor}), class: 'button secondary', id: 'older'}, view ? 'Later »' : 'Older »') : null;
  if (items.length === 0) {
    mount(body, empty(next ? 'None on this page; there are more to look through.' : cursor ? 'No more requests.' : what ? `No requests ${what}.` : 'No privacy requests yet.'),
      cursor ? h('p', {}, h('a', {href: link({status, view})}, 'Back to the first page')) : null, next ? h('nav', {class: 'pager', 'aria-label': 'Pages'}, next) : null);
    return;
  }

  const canReview = auth.can('privacy-request:review');
  const chosen = new Set();
  const boxes = [];
  const count = h('span', {class: 'chosen', 'aria-live': 'polite'}, 'None selected');
  const buttons = Object.entries(VERBS).map(([kind, verb]) =>
    h('button', {type: 'button', id: `bulk-${kind}`, class: kind === 'deny' ? 'danger' : kind === 'approve' ? '' : 'secondary', disabled: true,
      onclick: () => bulk(kind, [...chosen])}, verb.button));
  const all = h('input', {type: 'checkbox', id: 'select-all', onchange: (e) => {
    for (const b of boxes) {
      b.checked = e.target.checked;
      if (b.checked) chosen.add(b.value);
      else chosen.delete(b.value);
    }
    changed();
  }});
  function changed() {
    count.textContent = chosen.size ? `${chosen.size} selected` : 'None selected';
    for (const b of buttons) b.disabled = chosen.size === 0;
    all.checked = chosen.size === boxes.length;
    all.indeterminate = chosen.size > 0 && chosen.size < boxes.length;
  }
  // bulk asks for what a decision needs, makes it, and shows each request's outcome.
  function bulk(kind, ids) {
    const after = (result) => {
      outcome = {kind, ...result};
      rerender();
    };
    const n = ids.length === 1 ? 'this request' : `these ${ids.length} requests`;
    if (kind === 'deny') return denyDialog(ids, after);
    if (kind === 'extend') return extendDialog(ids, after);
    return confirmDialog(kind === 'approve' ? `Approve ${n}?` : `Re-run pre-approval of ${n}?`,
      h('p', {}, kind === 'approve' ? 'They will be approved and sent on for execution. A decision cannot be undone.'
        : 'Every configured pre-approval webhook is called again for each New request, which then waits for their replies.'),
      VERBS[kind].button, async () => after(await decide(kind, ids)));
  }

  const pick = (r) => {
    const b = h('input', {type: 'checkbox', id: `pick-${r.id}`, value: r.id, onchange: (e) => {
      if (e.target.checked) chosen.add(r.id);
      else chosen.delete(r.id);
      changed();
    }});
    boxes.push(b);
    return h('td', {class: 'pick', 'data-label': 'Select'}, b, h('label', {for: b.id, class: 'sr-only'}, `Select request ${r.id}`));
  };
  mount(body,
    search ? h('p', {class: 'notice info', id: 'search-note'}, 'Requests of the identity searched for, newest first.') : null,
    view ? h('p', {class: 'notice info', id: 'due-note'}, status ? `Requests due within ${DUE_SOON_DAYS} days or overdue, soonest due first.` : `Requests still waiting for a decision, due within ${DUE_SOON_DAYS} days or overdue, soonest due first.`) : null,
    canReview ? h('div', {class: 'bulk', role: 'toolbar', 'aria-label': 'Decide the selected requests'}, count, buttons) : null,
    h('table', {class: 'list', id: 'requests'},
      h('caption', {class: 'sr-only'}, view ? 'Privacy requests, soonest due first' : 'Privacy requests, newest first'),
      h('thead', {}, h('tr', {},
        canReview ? h('th', {scope: 'col', class: 'pick'}, all, h('label', {for: all.id, class: 'sr-only'}, 'Select every request on this page')) : null,
        ['Request', 'Status', 'Policy', 'Identity', 'Days left', 'Webhooks', 'Submitted'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, items.map((r) => h('tr', {dataset: {id: r.id}},
        canReview ? pick(r) : null,
        h('td', {'data-label': 'Request'}, h('a', {href: `#/requests/${encodeURIComponent(r.id)}`, class: 'mono'}, r.id)),
        h('td', {'data-label': 'Status'}, statusBadge(r.status)),
        h('td', {'data-label': 'Policy'}, r.policy_key),
        h('td', {'data-label': 'Identity'}, maskedIdentity(r)),
        h('td', {'data-label': 'Days left'}, daysLeft(r)),
        h('td', {'data-label': 'Webhooks'}, webhookCounts(r.webhooks)),
        h('td', {'data-label': 'Submitted'}, when(r.created_at)))))),
    h('nav', {class: 'pager', 'aria-label': 'Pages'},
      cursor ? h('a', {href: link({status, view}), class: 'button secondary'}, view ? '« Soonest due' : '« Newest') : null,
      next));
  if (canReview && ctx.draft && ctx.draft.kind === 'deny' && Array.isArray(ctx.draft.ids)) {
    denyDialog(ctx.draft.ids, (result) => {
      outcome = {kind: 'deny', ...result};
      rerender();
    }, ctx.draft.reason);
  }
}

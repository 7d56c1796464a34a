// One privacy request: identity (masked until revealed), policy and
// deadline, webhooks, timeline, and the admin's decisions (approve, deny
// with a reason, re-run pre-approval, extend the deadline), its evidence.
import {api, bulkFailures} from '../api.js';
import * as auth from '../auth.js';
import {denyDialog} from '../decide.js';
import {h, mount, loading, errorBox, notice, facts, statusBadge, stateBadge, when, confirmDialog, ACTION} from '../ui.js';
import {identitySection, deadlineFacts, deadlineActions} from '../privacy.js';

const DECIDABLE = ['pending', 'awaiting_pre_approval', 'pre_approval_not_eligible'];

// retryAvailable: whether this API has the re-run route, asked once with a
// body it refuses (422) without changing anything; 404/405: not deployed.
let retryAvailable = null;
async function hasRetryRoute() {
  if (retryAvailable === null) {
    try {
      await api('PATCH', '/privacy-request/administrate/retry-pre-approval', {request_ids: []});
      retryAvailable = true;
    } catch (e) {
      if (e.relogin) throw e;
      retryAvailable = !(e.status === 404 || e.status === 405);
    }
  }
  return retryAvailable;
}

async function decide(path, body) {
  const result = await api('PATCH', path, body);
  const failure = bulkFailures(result);
  if (failure) throw failure;
  return result;
}

// denied follows a denial of this one request: a failure stays in the dialog.
const denied = (reload) => (result) => {
  if (result.failed.length) throw new Error(result.failed.map((f) => f.message).join('; '));
  reload('Request denied.');
};

function webhookTable(id, webhooks) {
  return h('table', {class: 'list', id},
    h('thead', {}, h('tr', {}, ['Webhook', 'State', 'Attempts'].map((c) => h('th', {scope: 'col'}, c)))),
    h('tbody', {}, webhooks.map((w) => h('tr', {dataset: {key: w.key}},
      h('td', {'data-label': 'Webhook', class: 'mono'}, w.key),
      h('td', {'data-label': 'State'}, stateBadge(w.state)),
      h('td', {'data-label': 'Attempts'}, String(w.attempts ?? 0))))));
}

export async function requestPage(main, ctx) {
  const id = ctx.params[0];
  mount(main, h('p', {}, h('a', {href: '#/requests'}, '« Privacy requests')), loading('the request'));
  let req;
  let activity;
  try {
    [req, activity] = await Promise.all([
      api('GET', `/privacy-request/${encodeURIComponent(id)}`),
      api('GET', `/privacy-request/${encodeURIComponent(id)}/activity`),
    ]);
  } catch (e) {
    if (e.relogin) throw e;
    mount(main, h('p', {}, h('a', {href: '#/requests'}, '« Privacy requests')), errorBox(e, () => requestPage(main, ctx)));
    return;
  }
  const reload = (note) => requestPage(main, {...ctx, note, draft: null});
  const actions = h('div', {class: 'actions', id: 'actions'});
  const canReview = auth.can('privacy-request:review') && DECIDABLE.includes(req.status);
  if (canReview) {
    actions.append(
      h('button', {type: 'button', id: 'approve', onclick: () => confirmDialog('Approve this request?',
        h('p', {}, `Request ${req.id} will be approved and sent on for execution. A decision cannot be undone.`), 'Approve',
        async () => { await decide('/privacy-request/administrate/approve', {request_ids: [req.id]}); reload('Request approved.'); })}, 'Approve'),
      h('button', {type: 'button', id: 'deny', class: 'danger', onclick: () => denyDialog([req.id], denied(reload))}, 'Deny'));
    if (req.status === 'pending' && await hasRetryRoute()) {
      actions.append(h('button', {type: 'button', id: 'retry', class: 'secondary', onclick: () => confirmDialog('Re-run pre-approval?',
        h('p', {}, 'Every configured pre-approval webhook is called again for this request, which waits for their replies.'), 'Re-run pre-approval',
        async () => {
          try {
            await decide('/privacy-request/administrate/retry-pre-approval', {request_ids: [req.id]});
          } catch (e) {
            if (e.status === 404 || e.status === 405) retryAvailable = false;
            throw e;
          }
          reload('Pre-approval is running again.');
        })}, 'Re-run pre-approval'));
    }
  }
  const webhooks = req.webhooks || [];
  // Shadow verdicts are shown apart: they are recorded, never counted.
  const counted = webhooks.filter((w) => w.mode !== 'shadow');
  const shadows = webhooks.filter((w) => w.mode === 'shadow');
  const entries = (activity && activity.items) || [];
  actions.append(...deadlineActions(req, entries, reload));
  mount(main,
    h('p', {}, h('a', {href: '#/requests'}, '« Privacy requests')),
    h('div', {class: 'page-head'}, h('h1', {}, 'Request ', h('span', {class: 'mono'}, req.id), statusBadge(req.status))),
    ctx.note ? notice(ctx.note) : null,
    actions,
    h('div', {class: 'columns'},
      identitySection(req),
      h('section', {'aria-labelledby': 'h-policy'}, h('h2', {id: 'h-policy'}, 'Policy'), facts([
        ['Policy', req.policy_key],
        ['Action', req.policy_action],
        ['Submitted', when(req.created_at)],
        ...deadlineFacts(req),
        ['Updated', when(req.updated_at)],
        req.reviewed_at ? ['Reviewed', [when(req.reviewed_at), req.reviewed_by ? ` by ${req.reviewed_by}` : '']] : null,
      ]))),
    h('section', {'aria-labelledby': 'h-webhooks'}, h('h2', {id: 'h-webhooks'}, 'Pre-approval webhooks'),
      counted.length === 0 ? h('p', {class: 'muted'}, 'No webhook that decides was called for this request.') : webhookTable('request-webhooks', counted),
      shadows.length === 0 ? null : [h('h3', {id: 'h-shadow'}, 'Shadow webhooks: recorded, not counted'), webhookTable('shadow-webhooks', shadows)]),
    h('section', {'aria-labelledby': 'h-timeline'}, h('h2', {id: 'h-timeline'}, 'Activity'),
      entries.length === 0 ? h('p', {class: 'muted'}, 'No activity yet.') :
        h('ol', {class: 'timeline', id: 'timeline'}, entries.map((e) => h('li', {dataset: {action: e.action}},
          h('div', {class: 'when'}, when(e.at)),
          h('div', {}, h('strong', {}, ACTION[e.action] || e.action),
            e.webhook_key ? h('span', {class: 'muted'}, ` · ${e.webhook_key}`) : null,
            e.actor ? h('span', {class: 'muted'}, ` · by ${e.actor}`) : null,
            e.message ? h('p', {}, e.message) : null))))));
  if (ctx.draft && ctx.draft.kind === 'deny' && canReview) denyDialog([req.id], denied(reload), ctx.draft.reason);
}

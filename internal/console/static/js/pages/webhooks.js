// Pre-approval webhooks: each with its connection's endpoint URL (never a
// secret), its scope, its mode, and its health over the last 24 hours. Add
// creates the connection, its secrets and the webhook with the
// single-webhook route, so the webhooks already configured always remain.
// From a row: send a test call, open the delivery log, promote a shadow
// webhook to enforce.
import {api, bulkFailures, keepDraft} from '../api.js';
import * as auth from '../auth.js';
import {h, mount, loading, empty, errorBox, notice, dialog, confirmDialog, field, secretDialog, stateBadge, when} from '../ui.js';

const ACTIONS = ['access', 'erasure', 'update'];

// MODES are a webhook's modes, as the form offers them.
const MODES = [
  ['enforce', 'Enforce: its replies decide'],
  ['shadow', 'Shadow: called and recorded, decides nothing (to watch a new validator first)'],
];

// FAILING is how many failures in a row flag a webhook.
const FAILING = 5;

// snakeKey is the API's key for a name (lower-case, letters, digits, _).
export function snakeKey(name) {
  return name.toLowerCase().replace(/[^a-z0-9 _-]/g, '').trim().replace(/[ -]+/g, '_');
}

async function listAll(path) {
  const items = [];
  for (let page = 1; ; page++) {
    const r = await api('GET', `${path}?page=${page}&size=100`);
    items.push(...(r.items || []));
    if (page >= (r.pages || 1)) return items;
  }
}

// freeConnectionKey picks a key no connection has yet: base, base_2, base_3…
async function freeConnectionKey(base) {
  const taken = new Set((await listAll('/connection')).map((c) => c.key));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

async function addWebhook({name, url, authorization, policy_actions, mode}) {
  const key = snakeKey(name);
  if (!key) throw new Error('The name needs at least one letter or digit.');
  const connKey = await freeConnectionKey(key);
  const created = await api('PATCH', '/connection', [{key: connKey, name, connection_type: 'https', access: 'read'}]);
  const failure = bulkFailures(created);
  if (failure) throw failure;
  try {
    await api('PUT', `/connection/${encodeURIComponent(connKey)}/secret`, {url, authorization});
    return await api('POST', '/dsr/webhook/pre_approval', {name, connection_config_key: connKey, policy_actions, mode});
  } catch (e) {
    // Leave nothing half made behind when we may clean up.
    if (!e.relogin && auth.can('connection:delete')) await api('DELETE', `/connection/${encodeURIComponent(connKey)}`).catch(() => {});
    throw e;
  }
}

async function editWebhook(w, {name, url, authorization, policy_actions, mode}) {
  const conn = w.connection_config;
  const secrets = {};
  if (conn && (!conn.secrets || url !== conn.secrets.url)) secrets.url = url;
  if (authorization) secrets.authorization = authorization; // blank: the stored value stays
  if (conn && Object.keys(secrets).length) {
    await api('PATCH', `/connection/${encodeURIComponent(conn.key)}/secret`, secrets);
  }
  const patch = {};
  if (name !== w.name) patch.name = name;
  if (policy_actions.join() !== (w.policy_actions || []).join()) patch.policy_actions = policy_actions;
  if (mode !== w.mode) patch.mode = mode;
  if (Object.keys(patch).length) await api('PATCH', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}`, patch);
}

function webhookForm(title, w, draft, submit) {
  const name = h('input', {id: 'wh-name', required: true, maxlength: '200', autocomplete: 'off', value: (draft && draft.name) ?? (w ? w.name : '')});
  const url = h('input', {id: 'wh-url', type: 'url', required: true, maxlength: '2048', autocomplete: 'off', placeholder: 'https://validator.example.com/pre-approval',
    value: (draft && draft.url) ?? (w && w.connection_config && w.connection_config.secrets ? w.connection_config.secrets.url : '')});
  const authz = h('input', {id: 'wh-authorization', type: 'password', maxlength: '4096', autocomplete: 'new-password', required: !w, spellcheck: 'false'});
  const scope = (draft && draft.policy_actions) ?? (w ? w.policy_actions : ACTIONS);
  const boxes = ACTIONS.map((a) => h('input', {type: 'checkbox', id: `wh-scope-${a}`, value: a, checked: scope.includes(a)}));
  const chosen = () => boxes.filter((b) => b.checked).map((b) => b.value);
  const mode = (draft && draft.mode) ?? (w ? w.mode : 'enforce');
  const radios = MODES.map(([m]) => h('input', {type: 'radio', name: 'wh-mode', id: `wh-mode-${m}`, value: m, checked: m === mode}));
  const chosenMode = () => radios.find((r) => r.checked).value;
  // The authorization value is a secret: it is never kept in a draft.
  keepDraft(() => ({kind: w ? 'edit' : 'add', key: w ? w.key : null, name: name.value, url: url.value, policy_actions: chosen(), mode: chosenMode()}));
  return dialog(title, (close) => {
    const err = h('div');
    const save = h('button', {type: 'submit'}, w ? 'Save' : 'Add webhook');
    return h('form', {onsubmit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      mount(err);
      try {
        if (chosen().length === 0) throw new Error('Choose at least one kind of request for the webhook.');
        await submit({name: name.value.trim(), url: url.value.trim(), authorization: authz.value, policy_actions: chosen(), mode: chosenMode()}, close);
      } catch (x) {
        if (x.relogin) return;
        mount(err, errorBox(x));
        save.disabled = false;
      }
    }},
    draft ? notice('You were signed in again; your changes are back. Type the authorization header again if you had set it.', 'info') : null,
    field('Name', name),
    field('Endpoint URL', url, 'The validator’s URL; the gate POSTs each request there.'),
    field('Authorization header', authz, w ? 'Sent as the Authorization header. Leave blank to keep the stored value.' : 'Sent verbatim as the Authorization header, e.g. “Bearer …”.'),
    h('fieldset', {class: 'scope'}, h('legend', {}, 'Requests it checks (a change applies to requests submitted afterwards)'),
      boxes.map((b) => h('span', {class: 'check'}, b, h('label', {for: b.id}, b.value)))),
    h('fieldset', {class: 'scope modes'}, h('legend', {}, 'Mode (a change applies to requests submitted afterwards)'),
      radios.map((r, i) => h('span', {class: 'check'}, r, h('label', {for: r.id}, MODES[i][1])))),
    err,
    h('div', {class: 'buttons'}, save, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Cancel')));
  }, {onclose: () => keepDraft(null)});
}

// healthCell shows calls, failures and p95 latency over 24 hours, flagged
// after FAILING failures in a row.
function healthCell(hl) {
  if (!hl) return h('span', {class: 'muted'}, '—');
  const failing = hl.consecutive_failures >= FAILING;
  return h('div', {class: 'health'},
    failing ? h('p', {class: 'badge w-failed', role: 'status'}, `Failing: ${hl.consecutive_failures} in a row`) : null,
    h('div', {}, `${hl.calls} calls, ${hl.failures} failed`),
    h('div', {class: 'muted'}, hl.p95_latency_ms === null ? 'no latency yet' : `p95 ${hl.p95_latency_ms} ms`),
    failing && hl.last_failure ? h('div', {class: 'muted'}, `Last: ${hl.last_failure}`) : null);
}

// testDialog sends a test call and shows what comes of it as it arrives:
// the call's end, then the validator's reply.
async function testDialog(w) {
  const out = h('div', {id: 'test-result', 'aria-live': 'polite'}, loading('the test call'));
  let stopped = false;
  dialog(`Test call to “${w.name}”`, (close) => h('div', {},
    h('p', {}, 'One signed call, marked pregate-test: true, for a made-up access request. It creates no privacy request.'),
    out, h('div', {class: 'buttons'}, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Close'))),
  {onclose: () => { stopped = true; }});
  const path = `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}/test`;
  let t;
  try {
    t = await api('POST', path);
  } catch (e) {
    if (e.relogin) throw e;
    mount(out, errorBox(e));
    return;
  }
  // Poll until the reply comes, or for a while after the call ended without one.
  for (let i = 0, settled = 0; !stopped && i < 120 && settled < 10; i++) {
    let r;
    try {
      r = await api('GET', `${path}/${encodeURIComponent(t.test_id)}`);
    } catch (e) {
      if (e.relogin) throw e;
      mount(out, errorBox(e));
      return;
    }
    mount(out, testFacts(r));
    if (r.status === 'replied') return;
    if (r.status !== 'sending') settled++;
    await new Promise((ok) => setTimeout(ok, 1000));
  }
}

function testFacts(r) {
  const status = {sending: 'Sending…', called: 'Called: waiting for the reply', failed: 'Failed', replied: 'Replied'}[r.status] || r.status;
  return h('dl', {class: 'facts'},
    h('dt', {}, 'Status'), h('dd', {class: 'test-status'}, status),
    h('dt', {}, 'HTTP status'), h('dd', {}, r.http_status ?? '—'),
    h('dt', {}, 'Latency'), h('dd', {}, r.latency_ms === null ? '—' : `${r.latency_ms} ms`),
    r.error ? [h('dt', {}, 'Error'), h('dd', {}, r.error)] : null,
    h('dt', {}, 'Reply'), h('dd', {class: 'test-reply'}, r.reply ? stateBadge(r.reply) : '—'),
    h('dt', {}, 'Test id'), h('dd', {class: 'mono'}, r.test_id));
}

// deliveriesDialog shows the webhook's call attempts, newest first, a page at a time.
function deliveriesDialog(w) {
  const list = h('div', {id: 'deliveries'});
  const more = h('button', {type: 'button', class: 'secondary', id: 'older-deliveries', hidden: true}, 'Older');
  let cursor = '';
  const rows = h('tbody');
  const load = async () => {
    more.disabled = true;
    try {
      const q = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
      const r = await api('GET', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}/deliveries?size=20${q}`);
      if (!cursor && r.items.length === 0) {
        mount(list, empty('No calls in the last 30 days.'));
        return;
      }
      rows.append(...r.items.map((a) => h('tr', {},
        h('td', {'data-label': 'When'}, when(a.at)),
        h('td', {'data-label': 'Request', class: 'mono'}, h('a', {href: `#/requests/${encodeURIComponent(a.privacy_request_id)}`}, a.privacy_request_id),
          a.run ? ` (re-run ${a.run})` : ''),
        h('td', {'data-label': 'Attempt'}, a.attempt),
        h('td', {'data-label': 'Outcome'}, stateBadge(a.outcome)),
        h('td', {'data-label': 'HTTP'}, a.http_status ?? '—'),
        h('td', {'data-label': 'Latency'}, a.latency_ms === null ? '—' : `${a.latency_ms} ms`),
        h('td', {'data-label': 'Error'}, a.error ?? ''))));
      if (!list.firstChild) {
        mount(list, h('table', {class: 'list'}, h('caption', {class: 'sr-only'}, `Delivery log of ${w.name}`),
          h('thead', {}, h('tr', {}, ['When', 'Request', 'Attempt', 'Outcome', 'HTTP', 'Latency', 'Error'].map((c) => h('th', {scope: 'col'}, c)))), rows));
      }
      cursor = r.next_cursor || '';
      more.hidden = !cursor;
    } catch (e) {
      if (e.relogin) throw e;
      list.append(errorBox(e));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener('click', load);
  const d = dialog(`Delivery log of “${w.name}”`, (close) => h('div', {},
    h('p', {class: 'muted'}, 'Every call attempt of the last 30 days, newest first.'), list,
    h('div', {class: 'buttons'}, more, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Close'))));
  d.el.classList.add('wide');
  return load();
}

export async function webhooksPage(main, ctx = {}) {
  const canWrite = auth.can('webhook:create_or_update') && auth.can('connection:create_or_update');
  const canDelete = auth.can('webhook:delete');
  const canRotate = auth.can('webhook:create_or_update');
  const reload = (note) => webhooksPage(main, {note});
  const body = h('div', {}, loading('pre-approval webhooks'));
  const add = canWrite ? h('button', {type: 'button', id: 'add-webhook', onclick: () => openAdd(null)}, 'Add webhook') : null;
  const openAdd = (draft) => webhookForm('Add webhook', null, draft, async (values, close) => {
    const created = await addWebhook(values);
    close();
    await reload(`Webhook “${created.name}” added.`);
    if (created.signing_secret) secretDialog(created.name, created.signing_secret);
  });
  mount(main, h('div', {class: 'page-head'}, h('h1', {}, 'Pre-approval webhooks'), add),
    h('p', {class: 'muted'}, 'Every privacy request that needs approval is sent to each webhook whose scope holds its kind; all eligible approves it, any not eligible flags it for manual review. A webhook in shadow mode is called and its replies recorded, but they never count: promote it to enforce once its verdicts are right.'),
    ctx.note ? notice(ctx.note) : null, body);

  let hooks;
  try {
    hooks = await listAll('/dsr/webhook/pre_approval');
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, () => webhooksPage(main, ctx)));
    return;
  }
  const openEdit = (w, draft) => webhookForm(`Edit “${w.name}”`, w, draft, async (values, close) => {
    await editWebhook(w, values);
    close();
    await reload(`Webhook “${values.name}” saved.`);
  });
  const rotate = (w) => confirmDialog(`Rotate the signing secret of “${w.name}”?`,
    h('p', {}, 'A new signing secret is made and shown once. For 24 hours calls are signed with both, so the validator can switch over.'),
    'Rotate', async () => {
      const r = await api('POST', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}/rotate-secret`);
      setTimeout(() => secretDialog(w.name, r.signing_secret), 0);
    });
  const promote = (w) => confirmDialog(`Promote “${w.name}” to enforce?`,
    h('p', {}, 'Its replies will decide requests submitted from now on: all eligible approves, any not eligible flags for manual review. Requests already submitted keep it as a shadow.'),
    'Promote to enforce', async () => {
      await api('PATCH', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}`, {mode: 'enforce'});
      await reload(`Webhook “${w.name}” now enforces.`);
    });
  const remove = (w) => {
    const conn = w.connection_config;
    const shared = conn && hooks.some((o) => o.key !== w.key && o.connection_config && o.connection_config.key === conn.key);
    const also = conn && !shared && auth.can('connection:delete')
      ? h('input', {type: 'checkbox', id: 'delete-connection', checked: true}) : null;
    return confirmDialog(`Delete “${w.name}”?`, h('div', {},
      h('p', {}, 'New requests will no longer be sent to this webhook, and requests waiting for it stop waiting for it.'),
      also ? h('div', {class: 'check'}, also, h('label', {for: 'delete-connection'}, `Also delete its connection “${conn.key}” (no other webhook uses it)`)) : null),
    'Delete', async () => {
      await api('DELETE', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}`);
      if (also && also.checked) await api('DELETE', `/connection/${encodeURIComponent(conn.key)}`);
      await reload(`Webhook “${w.name}” deleted.`);
    }, {danger: true});
  };

  if (hooks.length === 0) {
    mount(body, empty(canWrite ? 'No pre-approval webhooks yet. Add one to have requests checked before approval.' : 'No pre-approval webhooks yet.'));
  } else {
    const healthCells = new Map(hooks.map((w) => [w.key, h('td', {'data-label': 'Last 24 hours'}, h('span', {class: 'muted'}, '…'))]));
    mount(body, h('table', {class: 'list', id: 'webhooks'},
      h('caption', {class: 'sr-only'}, 'Pre-approval webhooks'),
      h('thead', {}, h('tr', {}, ['Name', 'Checks', 'Mode', 'Last 24 hours', 'Endpoint URL', 'Connection', 'Actions'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, hooks.map((w) => {
        const conn = w.connection_config;
        return h('tr', {dataset: {key: w.key}},
          h('td', {'data-label': 'Name'}, h('strong', {}, w.name), h('div', {class: 'muted mono'}, w.key)),
          h('td', {'data-label': 'Checks'}, (w.policy_actions || []).join(', ')),
          h('td', {'data-label': 'Mode'}, w.mode === 'shadow'
            ? [h('span', {class: 'badge m-shadow'}, 'Shadow'), h('div', {class: 'muted'}, 'recorded, not counted')] : 'Enforce'),
          healthCells.get(w.key),
          h('td', {'data-label': 'Endpoint URL', class: 'url'}, conn && conn.secrets ? conn.secrets.url : h('span', {class: 'muted'}, conn ? 'no secrets' : 'connection missing')),
          h('td', {'data-label': 'Connection', class: 'mono'}, conn ? conn.key : '—'),
          h('td', {'data-label': 'Actions', class: 'row-actions'},
            canRotate ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Send test call to ${w.name}`, onclick: () => testDialog(w)}, 'Send test call') : null,
            h('button', {type: 'button', class: 'secondary small', 'aria-label': `Delivery log of ${w.name}`, onclick: () => deliveriesDialog(w)}, 'Delivery log'),
            canWrite ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Edit ${w.name}`, onclick: () => openEdit(w, null)}, 'Edit') : null,
            canRotate && w.mode === 'shadow' ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Promote ${w.name} to enforce`, onclick: () => promote(w)}, 'Promote to enforce') : null,
            canRotate ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Rotate signing secret of ${w.name}`, onclick: () => rotate(w)}, 'Rotate secret') : null,
            canDelete ? h('button', {type: 'button', class: 'danger small', 'aria-label': `Delete ${w.name}`, onclick: () => remove(w)}, 'Delete') : null));
      }))));
    // Health arrives after the list, one call per webhook, each filling its cell.
    await Promise.all(hooks.map(async (w) => {
      const cell = healthCells.get(w.key);
      try {
        mount(cell, healthCell(await api('GET', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}/health`)));
      } catch (e) {
        if (e.relogin) throw e;
        mount(cell, h('span', {class: 'muted'}, 'health unavailable'));
      }
    }));
  }
  // Back from signing in again: reopen the form that was open.
  const d = ctx.draft;
  if (d && d.kind === 'add' && canWrite) openAdd(d);
  if (d && d.kind === 'edit' && canWrite) {
    const w = hooks.find((x) => x.key === d.key);
    if (w) openEdit(w, d);
  }
}

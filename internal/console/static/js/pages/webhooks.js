// Pre-approval webhooks: each with its connection's endpoint URL (never a
// secret). Add creates the connection, its secrets and the webhook with the
// single-webhook route, so the webhooks already configured always remain.
import {api, bulkFailures, keepDraft} from '../api.js';
import * as auth from '../auth.js';
import {h, mount, loading, empty, errorBox, notice, dialog, confirmDialog, field, secretDialog} from '../ui.js';

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

async function addWebhook({name, url, authorization}) {
  const key = snakeKey(name);
  if (!key) throw new Error('The name needs at least one letter or digit.');
  const connKey = await freeConnectionKey(key);
  const created = await api('PATCH', '/connection', [{key: connKey, name, connection_type: 'https', access: 'read'}]);
  const failure = bulkFailures(created);
  if (failure) throw failure;
  try {
    await api('PUT', `/connection/${encodeURIComponent(connKey)}/secret`, {url, authorization});
    return await api('POST', '/dsr/webhook/pre_approval', {name, connection_config_key: connKey});
  } catch (e) {
    // Leave nothing half made behind when we may clean up.
    if (!e.relogin && auth.can('connection:delete')) await api('DELETE', `/connection/${encodeURIComponent(connKey)}`).catch(() => {});
    throw e;
  }
}

async function editWebhook(w, {name, url, authorization}) {
  const conn = w.connection_config;
  const secrets = {};
  if (conn && (!conn.secrets || url !== conn.secrets.url)) secrets.url = url;
  if (authorization) secrets.authorization = authorization; // blank: the stored value stays
  if (conn && Object.keys(secrets).length) {
    await api('PATCH', `/connection/${encodeURIComponent(conn.key)}/secret`, secrets);
  }
  if (name !== w.name) await api('PATCH', `/dsr/webhook/pre_approval/${encodeURIComponent(w.key)}`, {name});
}

function webhookForm(title, w, draft, submit) {
  const name = h('input', {id: 'wh-name', required: true, maxlength: '200', autocomplete: 'off', value: (draft && draft.name) ?? (w ? w.name : '')});
  const url = h('input', {id: 'wh-url', type: 'url', required: true, maxlength: '2048', autocomplete: 'off', placeholder: 'https://validator.example.com/pre-approval',
    value: (draft && draft.url) ?? (w && w.connection_config && w.connection_config.secrets ? w.connection_config.secrets.url : '')});
  const authz = h('input', {id: 'wh-authorization', type: 'password', maxlength: '4096', autocomplete: 'new-password', required: !w, spellcheck: 'false'});
  // The authorization value is a secret: it is never kept in a draft.
  keepDraft(() => ({kind: w ? 'edit' : 'add', key: w ? w.key : null, name: name.value, url: url.value}));
  return dialog(title, (close) => {
    const err = h('div');
    const save = h('button', {type: 'submit'}, w ? 'Save' : 'Add webhook');
    return h('form', {onsubmit: async (e) => {
      e.preventDefault();
      save.disabled = true;
      mount(err);
      try {
        await submit({name: name.value.trim(), url: url.value.trim(), authorization: authz.value}, close);
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
    err,
    h('div', {class: 'buttons'}, save, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Cancel')));
  }, {onclose: () => keepDraft(null)});
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
    h('p', {class: 'muted'}, 'Every privacy request that needs approval is sent to each of these webhooks; all eligible approves it, any not eligible flags it for manual review.'),
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
    mount(body, h('table', {class: 'list', id: 'webhooks'},
      h('caption', {class: 'sr-only'}, 'Pre-approval webhooks'),
      h('thead', {}, h('tr', {}, ['Name', 'Endpoint URL', 'Connection', (canWrite || canDelete) ? 'Actions' : null].filter(Boolean).map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, hooks.map((w) => {
        const conn = w.connection_config;
        return h('tr', {dataset: {key: w.key}},
          h('td', {'data-label': 'Name'}, h('strong', {}, w.name), h('div', {class: 'muted mono'}, w.key)),
          h('td', {'data-label': 'Endpoint URL', class: 'url'}, conn && conn.secrets ? conn.secrets.url : h('span', {class: 'muted'}, conn ? 'no secrets' : 'connection missing')),
          h('td', {'data-label': 'Connection', class: 'mono'}, conn ? conn.key : '—'),
          (canWrite || canDelete) ? h('td', {'data-label': 'Actions', class: 'row-actions'},
            canWrite ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Edit ${w.name}`, onclick: () => openEdit(w, null)}, 'Edit') : null,
            canRotate ? h('button', {type: 'button', class: 'secondary small', 'aria-label': `Rotate signing secret of ${w.name}`, onclick: () => rotate(w)}, 'Rotate secret') : null,
            canDelete ? h('button', {type: 'button', class: 'danger small', 'aria-label': `Delete ${w.name}`, onclick: () => remove(w)}, 'Delete') : null) : null);
      }))));
  }
  // Back from signing in again: reopen the form that was open.
  const d = ctx.draft;
  if (d && d.kind === 'add' && canWrite) openAdd(d);
  if (d && d.kind === 'edit' && canWrite) {
    const w = hooks.find((x) => x.key === d.key);
    if (w) openEdit(w, d);
  }
}

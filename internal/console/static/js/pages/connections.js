// Connections, read-only: where each validator lives, and which webhooks use it.
import {api} from '../api.js';
import * as auth from '../auth.js';
import {h, mount, loading, empty, errorBox, when} from '../ui.js';

async function all(path) {
  const items = [];
  for (let page = 1; ; page++) {
    const r = await api('GET', `${path}?page=${page}&size=100`);
    items.push(...(r.items || []));
    if (page >= (r.pages || 1)) return items;
  }
}

export async function connectionsPage(main) {
  const body = h('div', {}, loading('connections'));
  mount(main, h('div', {class: 'page-head'}, h('h1', {}, 'Connections')),
    h('p', {class: 'muted'}, 'Connections are created with their webhooks, on the pre-approval webhooks page. Authorization values are never shown.'),
    body);
  let conns;
  let hooks = null;
  try {
    conns = await all('/connection');
    if (auth.can('webhook:read')) hooks = await all('/dsr/webhook/pre_approval');
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, () => connectionsPage(main)));
    return;
  }
  if (conns.length === 0) {
    mount(body, empty('No connections yet.'));
    return;
  }
  const usedBy = (key) => {
    if (hooks === null) return h('span', {class: 'muted'}, 'needs webhook:read');
    const names = hooks.filter((w) => w.connection_config && w.connection_config.key === key).map((w) => w.name);
    return names.length ? names.join(', ') : h('span', {class: 'muted'}, 'no webhook');
  };
  mount(body, h('table', {class: 'list', id: 'connections'},
    h('caption', {class: 'sr-only'}, 'Connections'),
    h('thead', {}, h('tr', {}, ['Key', 'Name', 'Endpoint URL', 'Secrets', 'Used by', 'Updated'].map((c) => h('th', {scope: 'col'}, c)))),
    h('tbody', {}, conns.map((c) => h('tr', {dataset: {key: c.key}},
      h('td', {'data-label': 'Key', class: 'mono'}, c.key),
      h('td', {'data-label': 'Name'}, c.name, c.disabled ? h('span', {class: 'badge'}, 'disabled') : null),
      h('td', {'data-label': 'Endpoint URL', class: 'url'}, c.secrets ? c.secrets.url : h('span', {class: 'muted'}, 'no secrets')),
      h('td', {'data-label': 'Secrets'}, c.secrets
        ? ['authorization', c.secrets.headers ? 'headers' : null].filter(Boolean).join(', ') + ' set'
        : '—'),
      h('td', {'data-label': 'Used by'}, usedBy(c.key)),
      h('td', {'data-label': 'Updated'}, when(c.updated_at)))))));
}

// The access log: who revealed an identity, downloaded evidence or
// exported requests, and when; newest first, cursor paging.
import {api} from '../api.js';
import {h, mount, loading, empty, errorBox, when} from '../ui.js';

const PAGE_SIZE = 50;

const WHAT = {reveal: 'Revealed the identity', evidence: 'Downloaded the evidence', export: 'Exported requests'};

const link = (cursor) => (cursor ? `#/access?cursor=${encodeURIComponent(cursor)}` : '#/access');

export async function accessPage(main, {query}) {
  const cursor = query.get('cursor') || '';
  const body = h('div', {}, loading('the access log'));
  mount(main, h('div', {class: 'page-head'}, h('h1', {}, 'Access log')),
    h('p', {class: 'muted'}, 'Every reveal of an identity, evidence download and export page, with who did it. Entries are kept 400 days.'),
    body);
  let page;
  try {
    const q = new URLSearchParams({size: String(PAGE_SIZE)});
    if (cursor) q.set('cursor', cursor);
    page = await api('GET', `/audit/access?${q}`);
  } catch (e) {
    if (e.relogin) throw e;
    mount(body, errorBox(e, () => accessPage(main, {query})));
    return;
  }
  const items = page.items || [];
  if (items.length === 0) {
    mount(body, empty(cursor ? 'No older entries.' : 'No one has revealed, downloaded or exported anything yet.'));
    return;
  }
  mount(body,
    h('table', {class: 'list', id: 'access'},
      h('caption', {class: 'sr-only'}, 'Access log, newest first'),
      h('thead', {}, h('tr', {}, ['When', 'Who', 'What', 'Request', 'Detail'].map((c) => h('th', {scope: 'col'}, c)))),
      h('tbody', {}, items.map((e) => h('tr', {dataset: {action: e.action, id: e.privacy_request_id || ''}},
        h('td', {'data-label': 'When'}, when(e.at)),
        h('td', {'data-label': 'Who'}, e.actor),
        h('td', {'data-label': 'What'}, h('span', {class: `badge a-${e.action}`}, WHAT[e.action] || e.action)),
        h('td', {'data-label': 'Request'}, e.privacy_request_id
          ? h('a', {href: `#/requests/${encodeURIComponent(e.privacy_request_id)}`, class: 'mono'}, e.privacy_request_id) : '—'),
        h('td', {'data-label': 'Detail'}, e.detail || '—'))))),
    h('nav', {class: 'pager', 'aria-label': 'Pages'},
      cursor ? h('a', {href: link(''), class: 'button secondary'}, '« Newest') : null,
      page.next_cursor ? h('a', {href: link(page.next_cursor), class: 'button secondary', id: 'older'}, 'Older »') : null));
}

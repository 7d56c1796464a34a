// The console's shell: sign-in, navigation, and the router (routes live in
// the URL's fragment, so the server serves one page for all of them).
import * as auth from './auth.js';
import {keepDraft} from './api.js';
import {h, mount, errorBox} from './ui.js';
import {requestsPage} from './pages/requests.js';
import {requestPage} from './pages/request.js';
import {webhooksPage} from './pages/webhooks.js';
import {connectionsPage} from './pages/connections.js';
import {policiesPage} from './pages/policies.js';
import {accessPage} from './pages/access.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

const pages = [
  {re: /^#\/requests\/([^/?]+)$/, page: requestPage, nav: 'requests'},
  {re: /^#\/requests(?:\?.*)?$/, page: requestsPage, nav: 'requests'},
  {re: /^#\/webhooks$/, page: webhooksPage, nav: 'webhooks'},
  {re: /^#\/connections$/, page: connectionsPage, nav: 'connections'},
  {re: /^#\/policies$/, page: policiesPage, nav: 'policies'},
  {re: /^#\/access(?:\?.*)?$/, page: accessPage, nav: 'access'},
];

const sections = [
  {id: 'requests', href: '#/requests', label: 'Privacy requests', scope: 'privacy-request:read'},
  {id: 'webhooks', href: '#/webhooks', label: 'Pre-approval webhooks', scope: 'webhook:read'},
  {id: 'connections', href: '#/connections', label: 'Connections', scope: 'connection:read'},
  {id: 'policies', href: '#/policies', label: 'Policies', scope: 'policy:read'},
  {id: 'access', href: '#/access', label: 'Access log', scope: 'audit:read'},
];

let draft = null; // a form to reopen after signing in again

function renderNav(current) {
  mount(nav, h('ul', {}, sections.filter((s) => auth.can(s.scope)).map((s) =>
    h('li', {}, h('a', {href: s.href, 'aria-current': s.id === current ? 'page' : null}, s.label)))));
  mount(who, auth.user() ? h('span', {class: 'user'}, auth.user()) : null,
    h('button', {type: 'button', class: 'secondary small', id: 'sign-out', onclick: () => auth.signOut()}, 'Sign out'));
}

async function route() {
  const hash = location.hash || '';
  if (!hash.startsWith('#/')) {
    const first = sections.find((s) => auth.can(s.scope));
    location.replace(first ? first.href : '#/requests');
    return;
  }
  const match = pages.map((p) => ({p, m: hash.match(p.re)})).find((x) => x.m);
  keepDraft(null);
  if (!match) {
    renderNav('');
    mount(main, h('h1', {}, 'Not found'), h('p', {}, 'There is no page here. ', h('a', {href: '#/requests'}, 'Go to privacy requests.')));
    return;
  }
  renderNav(match.p.nav);
  const query = new URLSearchParams(hash.includes('?') ? hash.slice(hash.indexOf('?') + 1) : '');
  const ctx = {params: match.m.slice(1).map(decodeURIComponent), query, draft};
  draft = null;
  try {
    await match.p.page(main, ctx);
  } catch (e) {
    if (e && e.relogin) return;
    mount(main, errorBox(e, () => route()));
  }
}

function signedOutPage(text) {
  mount(nav);
  mount(who);
  mount(main, h('section', {class: 'signin'},
    h('h1', {}, 'pregate admin'),
    h('p', {}, text),
    h('button', {type: 'button', id: 'sign-in', onclick: () => auth.login({hash: ''})}, 'Sign in')));
  const b = document.getElementById('sign-in');
  if (b) b.focus();
}

async function start() {
  document.getElementById('skip').addEventListener('click', (e) => {
    e.preventDefault();
    main.focus();
  });
  if (!auth.enabled()) {
    mount(main, h('div', {class: 'error', role: 'alert'}, h('p', {}, 'Sign-in is not configured for this console: the stack has no console app client. See the README section for admins.')));
    return;
  }
  const params = new URLSearchParams(location.search);
  if (params.has('code') || params.has('error')) {
    mount(main, h('p', {class: 'state', role: 'status'}, 'Signing in…'));
    try {
      const resume = await auth.finishLogin();
      draft = resume.draft || null;
    } catch (e) {
      signedOutPage('');
      main.prepend(errorBox(e));
      return;
    }
  }
  if (!auth.signedIn()) {
    if (auth.wasSignedOut()) {
      signedOutPage('You have signed out.');
      return;
    }
    mount(main, h('p', {class: 'state', role: 'status'}, 'Going to the sign-in page…'));
    await auth.login({hash: location.hash});
    return;
  }
  window.addEventListener('hashchange', route);
  await route();
}

start().catch((e) => mount(main, errorBox(e)));

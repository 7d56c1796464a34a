// A request's personal data and its record for auditors, on its page: the
// identity masked until the admin reveals it (the API records each reveal
// in the access log), the deadline and its extension, the evidence.
import {api} from './api.js';
import * as auth from './auth.js';
import {extendDialog} from './decide.js';
import {h, mount, errorBox, facts, when, daysLeft, download, maskEmail, maskPhone, maskExternalID} from './ui.js';

// identitySection shows the identity masked, with a Reveal button that
// asks the API for it in clear; Hide masks it again (a new reveal is
// recorded again).
export function identitySection(req) {
  let list = h('dl');
  const status = h('span', {role: 'status', class: 'muted'});
  const toggle = h('button', {type: 'button', class: 'secondary small', id: 'reveal', 'aria-controls': 'identity'}, 'Reveal');
  const verified = ['Identity verified', req.identity_verified_at ? when(req.identity_verified_at) : null];
  const show = (email, phone, external, masked) => {
    const next = facts([['Email', email], ['Phone', phone], ['External id', external], verified], {id: 'identity', class: masked ? 'facts' : 'facts revealed'});
    list.replaceWith(next);
    list = next;
    toggle.textContent = masked ? 'Reveal' : 'Hide';
    toggle.setAttribute('aria-pressed', String(!masked));
  };
  const masked = () => {
    const id = req.identity || {};
    show(id.email && maskEmail(id.email), id.phone_number && maskPhone(id.phone_number), req.external_id && maskExternalID(req.external_id), true);
  };
  const err = h('div');
  toggle.addEventListener('click', async () => {
    mount(err);
    if (list.classList.contains('revealed')) {
      masked();
      status.textContent = '';
      return;
    }
    toggle.disabled = true;
    try {
      const r = await api('POST', `/privacy-request/${encodeURIComponent(req.id)}/reveal`);
      const id = r.identity || {};
      show(id.email, id.phone_number, r.external_id, false);
      status.textContent = 'Shown in clear; your reveal is in the access log.';
    } catch (e) {
      if (e.relogin) throw e;
      mount(err, errorBox(e));
    } finally {
      toggle.disabled = false;
    }
  });
  masked();
  return h('section', {'aria-labelledby': 'h-identity'},
    h('div', {class: 'section-head'}, h('h2', {id: 'h-identity'}, 'Identity'), toggle, status), err, list);
}

// deadlineFacts are the due date and days left, for the policy's facts.
export function deadlineFacts(req) {
  return [['Due date', req.due_date ? when(req.due_date) : 'No deadline'], req.due_date ? ['Days left', daysLeft(req)] : null];
}

// deadlineActions are the buttons about the deadline and the evidence:
// Extend deadline (once, with privacy-request:review), Download evidence.
export function deadlineActions(req, activity, reload) {
  const extended = activity.some((e) => e.action === 'deadline_extended');
  const out = [];
  if (auth.can('privacy-request:review') && req.due_date && req.status !== 'denied' && !extended) {
    out.push(h('button', {type: 'button', id: 'extend', class: 'secondary', onclick: () => extendDialog([req.id], (result) => {
      if (result.failed.length) throw new Error(result.failed.map((f) => f.message).join('; '));
      reload('Deadline extended.');
    })}, 'Extend deadline'));
  }
  const evidence = h('button', {type: 'button', id: 'evidence', class: 'secondary', onclick: async () => {
    evidence.disabled = true;
    try {
      const doc = await api('GET', `/privacy-request/${encodeURIComponent(req.id)}/evidence`);
      download(`evidence-${req.id}.json`, 'application/json', `${JSON.stringify(doc, null, 2)}\n`);
    } catch (e) {
      if (e.relogin) throw e;
      evidence.after(errorBox(e));
    } finally {
      evidence.disabled = false;
    }
  }}, 'Download evidence');
  out.push(evidence);
  return out;
}

// Small DOM helpers shared by the pages: element building, states (loading,
// empty, error), dialogs, labels for statuses and timeline actions.

// h builds an element: h('a', {href: '#/x', class: 'y', onclick: fn}, 'text', child…).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// mount replaces the content of an element.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

export const loading = (what) => h('p', {class: 'state', role: 'status'}, `Loading ${what}…`);
export const empty = (text) => h('p', {class: 'state empty'}, text);

// errorBox shows the API's own text as it is.
export function errorBox(err, retry) {
  return h('div', {class: 'error', role: 'alert'},
    h('p', {}, err && err.message ? err.message : String(err)),
    retry ? h('button', {type: 'button', class: 'secondary', onclick: retry}, 'Try again') : null);
}

export function notice(text, kind = 'ok') {
  return h('p', {class: `notice ${kind}`, role: kind === 'ok' ? 'status' : 'alert'}, text);
}

// The statuses, by the names people know.
export const STATUS = {
  identity_unverified: 'Identity unverified',
  pending: 'New',
  awaiting_pre_approval: 'Awaiting pre-approval',
  pre_approval_not_eligible: 'Manual review required',
  approved: 'Approved',
  denied: 'Denied',
  in_processing: 'In processing',
  complete: 'Complete',
  canceled: 'Canceled',
  error: 'Error',
};

export function statusBadge(status) {
  return h('span', {class: `badge s-${status}`}, STATUS[status] || status);
}

export const WEBHOOK_STATE = {
  pending: 'Pending', called: 'Called', eligible: 'Eligible', not_eligible: 'Not eligible', failed: 'Failed',
};

export function stateBadge(state) {
  return h('span', {class: `badge w-${state}`}, WEBHOOK_STATE[state] || state);
}

export const ACTION = {
  pre_approval_webhook_triggered: 'Webhooks triggered',
  pre_approval_webhook_called: 'Webhook called',
  pre_approval_webhook_failed: 'Webhook failed',
  pre_approval_webhook_removed: 'Webhook removed',
  pre_approval_eligible: 'Eligible',
  pre_approval_not_eligible: 'Not eligible',
  pre_approval_shadow_reply: 'Shadow verdict (not counted)',
  approved: 'Approved',
  denied: 'Denied',
  identity_verified: 'Identity verified',
  status_changed: 'Status changed',
  deadline_extended: 'Deadline extended',
};

// Identities are masked wherever the console shows them, until an admin
// reveals one request's (which the access log records): the page never
// holds a subject's email, phone number or external id in clear before.
export function maskEmail(email) {
  const at = email.lastIndexOf('@');
  return at < 1 ? '•••' : `${[...email][0]}•••${email.slice(at)}`;
}

// maskPhone keeps the last 4 digits.
export function maskPhone(phone) {
  let kept = 0;
  return [...phone].reverse().map((c) => (/[0-9]/.test(c) && ++kept > 4 ? '•' : c)).reverse().join('');
}

// maskExternalID keeps the first 2 characters.
export function maskExternalID(id) {
  const chars = [...id];
  return chars.slice(0, 2).join('') + '•'.repeat(Math.max(chars.length - 2, 0));
}

// DUE_SOON_DAYS: a request due within this many days is flagged (as in the
// admins' daily digest).
export const DUE_SOON_DAYS = 7;

// Statuses whose deadline is over: nothing waits on the privacy team.
const DECIDED = ['approved', 'denied', 'in_processing', 'complete', 'canceled'];

// daysLeft shows a request's days left, with words as well as colour:
// overdue in red, due soon in amber, the due date as a tooltip.
export function daysLeft(r) {
  const n = r.days_left;
  if (n === null || n === undefined) return h('span', {class: 'muted', title: 'Its policy has no execution timeframe'}, 'No deadline');
  const due = r.due_date ? new Date(r.due_date).toLocaleString(undefined, {year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit'}) : '';
  const days = (k) => `${k} day${k === 1 ? '' : 's'}`;
  if (DECIDED.includes(r.status)) {
    return h('span', {class: 'days muted', 'data-days-left': n, title: `Due ${due}; the request is decided`}, n < 0 ? `${days(-n)} past` : days(n));
  }
  if (n < 0) return h('span', {class: 'badge days overdue', 'data-days-left': n, title: `Overdue: it was due ${due}`}, `Overdue by ${days(-n)}`);
  if (n < DUE_SOON_DAYS) return h('span', {class: 'badge days soon', 'data-days-left': n, title: `Due soon: ${due}`}, `${days(n)}, due soon`);
  return h('span', {class: 'days', 'data-days-left': n, title: `Due ${due}`}, days(n));
}

// download saves text as a file the browser offers to keep.
export function download(name, type, text) {
  const url = URL.createObjectURL(new Blob([text], {type}));
  const a = h('a', {href: url, download: name, hidden: true});
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// facts is a definition list of [label, value] rows (falsy rows skipped, empty values shown as —).
export function facts(rows, attrs = {}) {
  return h('dl', {class: 'facts', ...attrs}, rows.filter(Boolean).map(([k, v]) =>
    [h('dt', {}, k), h('dd', {}, v === null || v === undefined || v === '' ? '—' : v)]));
}

// when formats an RFC 3339 time for people, keeping the exact value as a tooltip.
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return h('time', {datetime: iso, title: iso}, d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'}));
}

let dialogSeq = 0;

// dialog opens a modal <dialog>; build(close) returns its content. Focus
// moves into it and back to what had it when it closes; Escape closes it.
export function dialog(title, build, {onclose} = {}) {
  const back = document.activeElement;
  const id = `dlg-${++dialogSeq}`;
  const dlg = h('dialog', {'aria-labelledby': id});
  const close = () => {
    if (dlg.open) dlg.close();
  };
  dlg.addEventListener('close', () => {
    dlg.remove();
    if (onclose) onclose();
    if (back && back.isConnected) back.focus();
  });
  mount(dlg, h('h2', {id}, title), build(close));
  document.body.append(dlg);
  dlg.showModal();
  const first = dlg.querySelector('[autofocus], input:not([type=hidden]), textarea, select, button');
  if (first) first.focus();
  return {el: dlg, close};
}

// confirmDialog asks a yes/no question; onYes may throw to show an error in the dialog.
export function confirmDialog(title, body, yesLabel, onYes, {danger = false, onclose} = {}) {
  return dialog(title, (close) => {
    const err = h('div');
    const yes = h('button', {type: 'submit', class: danger ? 'danger' : ''}, yesLabel);
    const form = h('form', {method: 'dialog', onsubmit: async (e) => {
      e.preventDefault();
      yes.disabled = true;
      mount(err);
      try {
        await onYes(form);
        close();
      } catch (x) {
        if (x && x.relogin) return;
        mount(err, errorBox(x));
        yes.disabled = false;
      }
    }},
    body, err,
    h('div', {class: 'buttons'}, yes, h('button', {type: 'button', class: 'secondary', onclick: close}, 'Cancel')));
    return form;
  }, {onclose});
}

// field is a labelled input (every input has a label).
export function field(label, input, hint) {
  const id = input.id || `f-${++dialogSeq}`;
  input.id = id;
  const hintEl = hint ? h('small', {id: `${id}-hint`}, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', {class: 'field'}, h('label', {for: id}, label), input, hintEl);
}

// secretDialog shows a webhook's new signing secret once, with a copy button.
export function secretDialog(name, secret) {
  return dialog(`Signing secret of “${name}”`, (close) => {
    const input = h('input', {readonly: true, value: secret, class: 'mono', spellcheck: 'false', id: 'signing-secret'});
    const status = h('span', {role: 'status', class: 'copied'});
    return h('div', {},
      h('p', {}, 'Give this secret to the validator so it can check our signatures. It is shown only now: copy it before you close this window.'),
      field('Signing secret', input),
      h('div', {class: 'buttons'},
        h('button', {type: 'button', onclick: async () => {
          try {
            await navigator.clipboard.writeText(secret);
            status.textContent = 'Copied.';
          } catch {
            input.select();
            status.textContent = 'Selected: press Ctrl+C to copy.';
          }
        }}, 'Copy'),
        h('button', {type: 'button', class: 'secondary', onclick: close}, 'Done'), status));
  });
}

// Decisions on privacy requests, one or many at once. The API takes up to
// 50 ids a call and answers for each request ({succeeded, failed}); decide
// sends larger selections in parts and returns every request's outcome.
import {api, keepDraft} from './api.js';
import {h, confirmDialog, field} from './ui.js';

export const MAX_IDS = 50;
const MAX_DENY_REASON = 1000;
const MAX_EXTEND_REASON = 500;
const MAX_EXTEND_DAYS = 90;

const PATHS = {
  approve: '/privacy-request/administrate/approve',
  deny: '/privacy-request/administrate/deny',
  retry: '/privacy-request/administrate/retry-pre-approval',
  extend: '/privacy-request/administrate/extend',
};

// decide makes one kind of decision on ids, with the body's other fields
// (a reason, days); it answers {succeeded: [id], failed: [{id, message}]}.
export async function decide(kind, ids, fields = {}) {
  const out = {succeeded: [], failed: []};
  for (let i = 0; i < ids.length; i += MAX_IDS) {
    const res = await api('PATCH', PATHS[kind], {request_ids: ids.slice(i, i + MAX_IDS), ...fields});
    out.succeeded.push(...((res && res.succeeded) || []).map((r) => r.id));
    out.failed.push(...((res && res.failed) || []).map((f) => ({id: (f.data && f.data.privacy_request_id) || '', message: f.message})));
  }
  return out;
}

const several = (ids, one, many) => (ids.length === 1 ? one : many.replace('{n}', String(ids.length)));

// denyDialog asks for the one reason of a denial of ids; after(outcome)
// follows, and may throw to show an error in the dialog. The reason is
// kept as a draft if the session runs out meanwhile.
export function denyDialog(ids, after, reason = '') {
  const text = h('textarea', {id: 'deny-reason', rows: '4', maxlength: String(MAX_DENY_REASON), required: true}, reason);
  keepDraft(() => ({kind: 'deny', ids, reason: text.value}));
  return confirmDialog(several(ids, 'Deny this request?', 'Deny {n} requests?'), [
    h('p', {}, several(ids, `Request ${ids[0]} will be denied.`, 'Each of the {n} selected requests will be denied with the same reason.'), ' A decision cannot be undone.'),
    field('Reason (shown on the timeline)', text, `Up to ${MAX_DENY_REASON} characters.`),
  ], 'Deny', async () => after(await decide('deny', ids, {reason: text.value})), {danger: true, onclose: () => keepDraft(null)});
}

// extendDialog asks how many days to add to the deadline of ids, and why.
export function extendDialog(ids, after) {
  const days = h('input', {id: 'extend-days', type: 'number', min: '1', max: String(MAX_EXTEND_DAYS), step: '1', required: true, inputmode: 'numeric'});
  const reason = h('textarea', {id: 'extend-reason', rows: '3', maxlength: String(MAX_EXTEND_REASON), required: true});
  return confirmDialog(several(ids, 'Extend the deadline?', 'Extend {n} deadlines?'), [
    h('p', {}, several(ids, 'The due date', 'Each request’s due date'), ' moves by the days given. A deadline can be extended once.'),
    field('Days', days, `1 to ${MAX_EXTEND_DAYS}.`),
    field('Reason (shown on the timeline)', reason, `Up to ${MAX_EXTEND_REASON} characters.`),
  ], 'Extend deadline', async () => after(await decide('extend', ids, {days: Number(days.value), reason: reason.value})));
}

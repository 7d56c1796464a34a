package gate

import (
	"context"
	"fmt"
	"time"
)

// Export limits.
const (
	DefaultExportSize = 1000
	MaxExportSize     = 1000
	MaxExportRange    = 366 * 24 * time.Hour
)

// ExportParams are an export's filters as the admin sends them.
type ExportParams struct {
	CreatedFrom, CreatedTo string // RFC 3339; CreatedTo "" is now
	Status                 string
	Size                   int
	Cursor                 string
	Actor                  string
}

// Export pages through the requests created in [CreatedFrom, CreatedTo),
// newest first, and records the page in the access log.
func (u *Requests) Export(ctx context.Context, p ExportParams) (Page, error) {
	var fields []FieldError
	from, err := time.Parse(time.RFC3339Nano, p.CreatedFrom)
	if err != nil {
		fields = append(fields, FieldError{Loc: []any{"query", "created_from"}, Msg: "required: a date-time in RFC 3339", Type: "value_error.datetime"})
	}
	to := u.now()
	if p.CreatedTo != "" {
		if to, err = time.Parse(time.RFC3339Nano, p.CreatedTo); err != nil {
			fields = append(fields, FieldError{Loc: []any{"query", "created_to"}, Msg: "value is not a date-time in RFC 3339", Type: "value_error.datetime"})
		}
	}
	if len(fields) == 0 && (to.Before(from) || to.Sub(from) > MaxExportRange) {
		fields = append(fields, FieldError{Loc: []any{"query", "created_to"}, Msg: "the range must run forward and span at most 366 days", Type: "value_error.range"})
	}
	if p.Size < 1 || p.Size > MaxExportSize {
		fields = append(fields, FieldError{Loc: []any{"query", "size"}, Msg: fmt.Sprintf("ensure this value is between 1 and %d", MaxExportSize), Type: "value_error.number"})
	}
	q := ListQuery{Size: p.Size, From: FormatTime(from), To: FormatTime(to)}
	if p.Status != "" {
		st, ok := ParseStatus(p.Status)
		if !ok {
			fields = append(fields, FieldError{Loc: []any{"query", "status"}, Msg: "value is not a valid enumeration member", Type: "type_error.enum"})
		}
		q.Status = st
	}
	if len(fields) > 0 {
		return Page{}, &ValidationError{Fields: fields}
	}
	if err := checkActor(p.Actor); err != nil {
		return Page{}, err
	}
	page, err := u.listPage(ctx, q, p.Cursor)
	if err != nil {
		return Page{}, err
	}
	detail := fmt.Sprintf("created %s to %s, %d rows", q.From, q.To, len(page.Items))
	if p.Status != "" {
		detail += ", status " + p.Status
	}
	if err := u.record(ctx, AccessEntry{Actor: p.Actor, Action: AccessExport, Detail: detail}); err != nil {
		return Page{}, err
	}
	return page, nil
}

// record writes one access-log entry, now.
func (u *Requests) record(ctx context.Context, e AccessEntry) error {
	e.At = u.now()
	if err := u.Access.Record(ctx, e); err != nil {
		return fmt.Errorf("record %s in the access log: %w", e.Action, err)
	}
	return nil
}

// Reveal returns request id, whose identity the console masks until an
// admin asks for it, and records that in the access log.
func (u *Requests) Reveal(ctx context.Context, id, actor string) (*PrivacyRequest, error) {
	if err := checkActor(actor); err != nil {
		return nil, err
	}
	r, err := u.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := u.record(ctx, AccessEntry{Actor: actor, Action: AccessReveal, PrivacyRequestID: id, Detail: "identity and external id"}); err != nil {
		return nil, err
	}
	return r, nil
}

// Evidence is what an auditor gets of one request: the request, its
// timeline (every run's, oldest first) and its pre-approval runs.
type Evidence struct {
	Request  *PrivacyRequest
	Activity []ActivityEntry
	Runs     []EvidenceRun
}

// EvidenceRun is one pre-approval run: when it began and the entry that
// names the webhooks its snapshot held.
type EvidenceRun struct {
	Run       int
	Triggered ActivityEntry
}

// Evidence builds request id's evidence from what is stored and records
// the download in the access log.
func (u *Requests) Evidence(ctx context.Context, id, actor string) (Evidence, error) {
	if err := checkActor(actor); err != nil {
		return Evidence{}, err
	}
	r, err := u.get(ctx, id)
	if err != nil {
		return Evidence{}, err
	}
	activity, err := u.activityOf(ctx, r)
	if err != nil {
		return Evidence{}, err
	}
	if err := u.record(ctx, AccessEntry{Actor: actor, Action: AccessEvidence, PrivacyRequestID: id, Detail: "request, timeline and runs"}); err != nil {
		return Evidence{}, err
	}
	return Evidence{Request: r, Activity: activity, Runs: runsOf(activity)}, nil
}

// runsOf finds each run's snapshot in the timeline: a run begins with the
// entry that triggered its webhooks, which names them all.
func runsOf(activity []ActivityEntry) []EvidenceRun {
	runs := []EvidenceRun{}
	for _, e := range activity {
		if e.Kind == KindTriggered {
			runs = append(runs, EvidenceRun{Run: len(runs), Triggered: e})
		}
	}
	return runs
}

package gate

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"
)

// archivedStore holds a request on its second run, its first run's
// timeline moved out to the archive.
type archivedStore struct {
	RequestStore
	r        *PrivacyRequest
	archived []ActivityEntry
}

func (s *archivedStore) Get(context.Context, string) (*PrivacyRequest, error) { return s.r, nil }
func (s *archivedStore) ArchivedActivity(_ context.Context, _ string, runs int) ([]ActivityEntry, error) {
	if runs != s.r.Run {
		return nil, nil
	}
	return s.archived, nil
}

type accessRecords []AccessEntry

func (a *accessRecords) Record(_ context.Context, e AccessEntry) error {
	*a = append(*a, e)
	return nil
}
func (a *accessRecords) List(context.Context, int, string) ([]AccessEntry, string, error) {
	return nil, "", nil
}

// TestEvidenceIsBuiltFromWhatIsStored: the evidence of a request on its
// second run holds the archived first run's timeline before the current
// one's, both runs, and its download is one access-log entry with the admin.
func TestEvidenceIsBuiltFromWhatIsStored(t *testing.T) {
	at := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	hook := []Mention{{Key: "hr", Name: "HR"}}
	store := &archivedStore{
		r: &PrivacyRequest{ID: "pri_11111111-1111-4111-8111-111111111111", Run: 1, Activity: []ActivityEntry{
			{At: at.Add(time.Hour), Kind: KindRerun, Actor: "ada"},
			{At: at.Add(time.Hour), Kind: KindTriggered, Hooks: hook},
		}},
		archived: []ActivityEntry{
			{At: at, Kind: KindTriggered, Hooks: hook},
			{At: at.Add(time.Minute), Kind: KindFailed, Hooks: hook, Attempts: 5, Reason: "HTTP 503"},
		},
	}
	var log accessRecords
	u := &Requests{Store: store, Access: &log, Now: func() time.Time { return at.Add(2 * time.Hour) }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ev, err := u.Evidence(context.Background(), store.r.ID, "auditor-helper")
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Activity) != 4 || ev.Activity[1].Kind != KindFailed || ev.Activity[2].Kind != KindRerun {
		t.Errorf("timeline: %+v, want the archived run's two entries, then the current run's", ev.Activity)
	}
	if len(ev.Runs) != 2 || ev.Runs[0].Run != 0 || !ev.Runs[0].Triggered.At.Equal(at) || ev.Runs[1].Run != 1 {
		t.Errorf("runs: %+v", ev.Runs)
	}
	if len(log) != 1 || log[0].Action != AccessEvidence || log[0].Actor != "auditor-helper" || log[0].PrivacyRequestID != store.r.ID {
		t.Errorf("access log: %+v, want one evidence entry by the admin", log)
	}
}

package stream_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"

	"github.com/pregate/pregate/internal/stream"
)

// expireCall is one ExpireArchives call.
type expireCall struct {
	ID        string
	Runs      int
	ExpiresAt int64
}

type recordingExpirer struct {
	calls []expireCall
	err   error
}

func (e *recordingExpirer) ExpireArchives(_ context.Context, id string, runs int, expiresAt int64) error {
	e.calls = append(e.calls, expireCall{id, runs, expiresAt})
	return e.err
}

// image builds a stream image from name/value pairs: a value of type int is
// a number attribute, a string a string attribute.
func image(kv ...any) map[string]events.DynamoDBAttributeValue {
	img := map[string]events.DynamoDBAttributeValue{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case int:
			img[kv[i].(string)] = events.NewNumberAttribute(strconv.Itoa(v))
		case string:
			img[kv[i].(string)] = events.NewStringAttribute(v)
		}
	}
	return img
}

// The records that finish a re-run request (expires_at appears, or changes,
// with pre_approval_run > 0) give its archived runs the expiry; no other
// record does.
func TestArchivesExpireWithTheFinishedRequest(t *testing.T) {
	const exp = 1790000000
	modify := func(old, new map[string]events.DynamoDBAttributeValue) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: "1", OldImage: old, NewImage: new}}
	}
	for _, c := range []struct {
		name string
		rec  events.DynamoDBEventRecord
		want []expireCall
	}{
		{"denied after 2 re-runs", modify(image(dynamo.AttrID, "pri_1", dynamo.AttrStatus, "pending", dynamo.AttrRun, 2),
			image(dynamo.AttrID, "pri_1", dynamo.AttrStatus, "denied", dynamo.AttrRun, 2, dynamo.AttrExpires, exp)), []expireCall{{"pri_1", 2, exp}}},
		{"approved by the last reply after a re-run", modify(image(dynamo.AttrID, "pri_2", dynamo.AttrStatus, "awaiting_pre_approval", dynamo.AttrRun, 1),
			image(dynamo.AttrID, "pri_2", dynamo.AttrStatus, "approved", dynamo.AttrRun, 1, dynamo.AttrExpires, exp)), []expireCall{{"pri_2", 1, exp}}},
		{"expiry changed", modify(image(dynamo.AttrID, "pri_3", dynamo.AttrStatus, "approved", dynamo.AttrRun, 3, dynamo.AttrExpires, exp-5),
			image(dynamo.AttrID, "pri_3", dynamo.AttrStatus, "approved", dynamo.AttrRun, 3, dynamo.AttrExpires, exp)), []expireCall{{"pri_3", 3, exp}}},
		{"never re-run", modify(image(dynamo.AttrID, "pri_4", dynamo.AttrStatus, "pending"),
			image(dynamo.AttrID, "pri_4", dynamo.AttrStatus, "denied", dynamo.AttrExpires, exp)), nil},
		{"run 0", modify(image(dynamo.AttrID, "pri_5", dynamo.AttrStatus, "pending", dynamo.AttrRun, 0),
			image(dynamo.AttrID, "pri_5", dynamo.AttrStatus, "denied", dynamo.AttrRun, 0, dynamo.AttrExpires, exp)), nil},
		{"already expiring (the published mark's write)", modify(image(dynamo.AttrID, "pri_6", dynamo.AttrStatus, "approved", dynamo.AttrRun, 1, dynamo.AttrExpires, exp),
			image(dynamo.AttrID, "pri_6", dynamo.AttrStatus, "approved", dynamo.AttrRun, 1, dynamo.AttrExpires, exp, "published_at", "2026-01-02T03:04:05Z")), nil},
		{"not finished", modify(image(dynamo.AttrID, "pri_7", dynamo.AttrStatus, "pending", dynamo.AttrRun, 1),
			image(dynamo.AttrID, "pri_7", dynamo.AttrStatus, "awaiting_pre_approval", dynamo.AttrRun, 2)), nil},
		{"retention 0 (no expiry)", modify(image(dynamo.AttrID, "pri_8", dynamo.AttrStatus, "pending", dynamo.AttrRun, 1),
			image(dynamo.AttrID, "pri_8", dynamo.AttrStatus, "denied", dynamo.AttrRun, 1)), nil},
		{"an archive item's own record", modify(image(dynamo.AttrID, "pri_9#run0"), image(dynamo.AttrID, "pri_9#run0", dynamo.AttrExpires, exp)), nil},
		{"approved at creation", events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{
			NewImage: image(dynamo.AttrID, "pri_10", dynamo.AttrStatus, "approved", dynamo.AttrExpires, exp)}}, nil},
		{"removed by its TTL", events.DynamoDBEventRecord{EventName: "REMOVE", Change: events.DynamoDBStreamRecord{
			OldImage: image(dynamo.AttrID, "pri_11", dynamo.AttrStatus, "denied", dynamo.AttrRun, 2, dynamo.AttrExpires, exp)}}, nil},
		{"expires_at not a number", modify(image(dynamo.AttrID, "pri_12", dynamo.AttrStatus, "pending", dynamo.AttrRun, 1),
			image(dynamo.AttrID, "pri_12", dynamo.AttrStatus, "denied", dynamo.AttrRun, 1, dynamo.AttrExpires, "soon")), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &recordingExpirer{}
			a := &stream.Archives{Store: e}
			if err := a.Handle(context.Background(), c.rec); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(e.calls, c.want) {
				t.Fatalf("calls %+v, want %+v", e.calls, c.want)
			}
		})
	}
}

// A failed expiry fails its record, which the stream then retries: the
// batch reports it and stops there; the records before it went through.
func TestArchivesFailureFailsTheRecord(t *testing.T) {
	finished := func(id, seq string) events.DynamoDBEventRecord {
		return events.DynamoDBEventRecord{EventName: "MODIFY", Change: events.DynamoDBStreamRecord{SequenceNumber: seq,
			OldImage: image(dynamo.AttrID, id, dynamo.AttrStatus, "pending", dynamo.AttrRun, 1),
			NewImage: image(dynamo.AttrID, id, dynamo.AttrStatus, "denied", dynamo.AttrRun, 1, dynamo.AttrExpires, 1790000000)}}
	}
	other := events.DynamoDBEventRecord{EventName: "INSERT", Change: events.DynamoDBStreamRecord{SequenceNumber: "1", NewImage: image(dynamo.AttrID, "pri_0", dynamo.AttrStatus, "pending")}}
	e := &recordingExpirer{err: errors.New("throttled")}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	h := &stream.Handler{Log: log, Steps: []stream.RecordHandler{&stream.Archives{Store: e, Log: log}}}
	resp, err := h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{other, finished("pri_a", "2"), finished("pri_b", "3")}})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "2" {
		t.Fatalf("failures %+v, want exactly sequence 2", resp.BatchItemFailures)
	}
	if len(e.calls) != 1 || e.calls[0].ID != "pri_a" {
		t.Fatalf("calls %+v, want pri_a's only", e.calls)
	}
	// The retry, once the store answers, goes through.
	e.err = nil
	resp, _ = h.Handle(context.Background(), events.DynamoDBEvent{Records: []events.DynamoDBEventRecord{finished("pri_a", "2"), finished("pri_b", "3")}})
	if len(resp.BatchItemFailures) != 0 || len(e.calls) != 3 {
		t.Fatalf("retry: failures %+v, calls %+v", resp.BatchItemFailures, e.calls)
	}
}

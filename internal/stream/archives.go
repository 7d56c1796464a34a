package stream

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pregate/pregate/internal/dynamo"
	"github.com/pregate/pregate/internal/logkey"
)

// ArchiveExpirer gives the archived pre-approval runs 0..runs-1 of request id
// the TTL expiresAt (epoch seconds). A run with no archive item is nothing
// to do; giving an archive item the expiry it already has changes nothing.
type ArchiveExpirer interface {
	ExpireArchives(ctx context.Context, id string, runs int, expiresAt int64) error
}

// Archives makes the archived runs of a re-run request expire with it. The
// write that finishes a request (approved or denied) gives its item
// expires_at; that record then gives each archive item the same. The stream
// retries a failed record (and a failure here fails it), so an archive item
// is not left behind, holding the request's webhooks and timeline, when one
// write fails. Archive items' own records do not qualify (they have no
// pre_approval_run), and the stream's filters drop them anyway (no status).
type Archives struct {
	Store ArchiveExpirer
	Log   *slog.Logger // nil: no log
}

// Handle looks at one stream record.
func (a *Archives) Handle(ctx context.Context, rec events.DynamoDBEventRecord) error {
	id, runs, exp, ok := archivesToExpire(rec)
	if !ok {
		return nil
	}
	if err := a.Store.ExpireArchives(ctx, id, runs, exp); err != nil {
		return fmt.Errorf("request %s: expire its archived runs: %w", id, err)
	}
	if a.Log != nil {
		a.Log.InfoContext(ctx, "archived runs expire with the request", logkey.PrivacyRequestID, id, "runs", runs, "expires_at", exp)
	}
	return nil
}

// archivesToExpire reports whether rec finishes a re-run request: its new
// image has expires_at and pre_approval_run > 0, and its old image had no
// expires_at or another one. It returns the request's id, its run count
// (archive items 0..runs-1) and the expiry.
func archivesToExpire(rec events.DynamoDBEventRecord) (id string, runs int, expiresAt int64, ok bool) {
	img := rec.Change.NewImage
	exp, ok := num(img, dynamo.AttrExpires)
	if !ok {
		return "", 0, 0, false
	}
	if old, had := num(rec.Change.OldImage, dynamo.AttrExpires); had && old == exp {
		return "", 0, 0, false
	}
	run, ok := num(img, dynamo.AttrRun)
	if !ok {
		return "", 0, 0, false
	}
	n, err := strconv.Atoi(run)
	if err != nil || n <= 0 {
		return "", 0, 0, false
	}
	at, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return "", 0, 0, false
	}
	id = str(img, dynamo.AttrID)
	if id == "" {
		return "", 0, 0, false
	}
	return id, n, at, true
}

// num reads a number attribute of an image as DynamoDB holds it.
func num(img map[string]events.DynamoDBAttributeValue, name string) (string, bool) {
	v, ok := img[name]
	if !ok || v.DataType() != events.DataTypeNumber {
		return "", false
	}
	return v.Number(), true
}

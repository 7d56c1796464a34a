package gate

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"
)

// The actions the access log records: each is one admin looking at (or
// taking away) personal data.
const (
	AccessReveal   = "reveal"
	AccessEvidence = "evidence"
	AccessExport   = "export"
)

// AccessLogRetention is how long the access log keeps an entry.
const AccessLogRetention = 400 * 24 * time.Hour

// AccessEntry is one line of the access log.
type AccessEntry struct {
	At               time.Time
	Actor            string
	Action           string
	PrivacyRequestID string // "" for an export
	Detail           string
}

// AccessLog keeps the access log.
type AccessLog interface {
	// Record adds an entry.
	Record(ctx context.Context, e AccessEntry) error
	// List returns up to size entries newest first, after the entry whose
	// key is after ("" for the first page), and the key to continue after
	// ("" when there is no more).
	List(ctx context.Context, size int, after string) ([]AccessEntry, string, error)
}

// AccessPage is one page of the access log; NextCursor is "" on the last page.
type AccessPage struct {
	Items      []AccessEntry
	NextCursor string
}

// accessKeyPattern is the shape of an access-log key: "<at RFC 3339 micro>#<16 hex>".
var accessKeyPattern = lazyPattern(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z#[0-9a-f]{16}$`)

// AccessKey checks the shape of an access-log key.
func AccessKey(s string) bool { return accessKeyPattern().MatchString(s) }

// ListAccess pages through the access log, newest first.
func ListAccess(ctx context.Context, log AccessLog, size int, cursor string) (AccessPage, error) {
	if size < 1 || size > MaxPageSize {
		return AccessPage{}, Invalid(fmt.Sprintf("ensure this value is between 1 and %d", MaxPageSize), "value_error.number", "query", "size")
	}
	after := ""
	if cursor != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil || !AccessKey(string(raw)) {
			return AccessPage{}, errInvalidCursor
		}
		after = string(raw)
	}
	items, next, err := log.List(ctx, size, after)
	if err != nil {
		return AccessPage{}, fmt.Errorf("list access log: %w", err)
	}
	page := AccessPage{Items: items}
	if next != "" {
		page.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(next))
	}
	return page, nil
}

package httpapi

import (
	"strconv"

	"github.com/pregate/pregate/internal/gate"
)

// OffsetPage is the page of a small collection.
type OffsetPage[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
	Pages int `json:"pages"`
}

// PaginateOffset cuts all into the page the query asks for (?page=1&size=50, size 1–100).
func PaginateOffset[T any](r *Request, all []T) (OffsetPage[T], error) {
	page, err := offsetQueryInt(r, "page", 1, 1, 1<<30)
	if err != nil {
		return OffsetPage[T]{}, err
	}
	size, err := offsetQueryInt(r, "size", 50, 1, 100)
	if err != nil {
		return OffsetPage[T]{}, err
	}
	p := OffsetPage[T]{Items: []T{}, Total: len(all), Page: page, Size: size, Pages: (len(all) + size - 1) / size}
	if start := (page - 1) * size; start < len(all) {
		p.Items = all[start:min(start+size, len(all))]
	}
	return p, nil
}

func offsetQueryInt(r *Request, name string, def, lo, hi int) (int, error) {
	raw := r.Query(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, gate.Invalid("value is not a valid integer", "type_error.integer", "query", name)
	}
	if n < lo || n > hi {
		return 0, gate.Invalid("ensure this value is between "+strconv.Itoa(lo)+" and "+strconv.Itoa(hi), "value_error.number", "query", name)
	}
	return n, nil
}

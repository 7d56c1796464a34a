package httpapi

import (
	"errors"
	"testing"

	"github.com/pregate/pregate/internal/gate"
)

// FuzzAdminDecoders: any body decodes to a value or a typed 400/422 error,
// never a panic, and decoded connection batches validate without panicking.
func FuzzAdminDecoders(f *testing.F) {
	for _, seed := range []string{
		`[{"name":"CRM","connection_type":"https","access":"read"}]`,
		`[{"key":"a","name":"A","connection_config_key":"c"}]`,
		`{"url":"https://example.com","authorization":"x","headers":{"a":"b"}}`,
		`{"name":"x","connection_config_key":null}`,
		`[]`, `null`, `{`, `[1,2]`, `{"url":1}`, `[{"disabled":"yes"}]`, "\x00", `"str"`, `[{"key":"\u00e9"}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			var st *statusError
			var val *gate.ValidationError
			if err != nil && !errors.As(err, &st) && !errors.As(err, &val) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
		}
		var conns []gate.ConnectionInput
		err := DecodeJSON(body, &conns)
		check(err)
		if err == nil {
			check(gate.ValidateConnections(conns))
		}
		var hooks []gate.WebhookInput
		check(DecodeJSON(body, &hooks))
		var hook gate.WebhookInput
		check(DecodeJSON(body, &hook))
		var secrets gate.SecretsInput
		check(DecodeJSON(body, &secrets))
	})
}

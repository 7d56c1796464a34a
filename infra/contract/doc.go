// Package contract holds the property-based test of the API against its
// OpenAPI document (docs/openapi.yaml), run with Schemathesis on the local
// system. It has no code of its own: see contract_test.go.
package contract

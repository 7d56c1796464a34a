// Package docs holds the API's OpenAPI document, embedded so the local
// gateway can serve it and tests can validate responses against it.
package docs

import _ "embed"

// OpenAPI is docs/openapi.yaml: the OpenAPI 3.1 description of the whole API.
//
//go:embed openapi.yaml
var OpenAPI []byte

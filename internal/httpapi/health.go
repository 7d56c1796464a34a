package httpapi

import (
	"context"
	"runtime"
	"runtime/debug"
)

// HealthRoutes serves GET /api/v1/health: liveness plus the versions of what runs.
func HealthRoutes() []Route {
	return []Route{{Key: "GET /api/v1/health", Handle: health}}
}

func health(_ context.Context, _ *Request) (Response, error) {
	versions := map[string]string{"go": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		versions["pregate"] = bi.Main.Version
		for _, d := range bi.Deps {
			switch d.Path {
			case "github.com/aws/aws-lambda-go", "github.com/aws/aws-sdk-go-v2", "github.com/go-jose/go-jose/v4":
				versions[d.Path] = d.Version
			}
		}
	}
	return OK(map[string]any{"status": "ok", "versions": versions})
}

package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/adminapi"
	"github.com/pregate/pregate/internal/app/publicapi"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/config"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestServedRoutesAreInTheTemplate holds each API's routes against
// template.yaml, in both directions: every served route is declared for that
// function, behind the authorizer exactly when it has a scope, and every
// declared route is served.
func TestServedRoutesAreInTheTemplate(t *testing.T) {
	s, awsCfg := awstest.Stack(t)
	routes, err := s.Template.Routes()
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]stack.Route{}
	for _, r := range routes {
		declared[r.Key()] = r
	}
	type api interface {
		RouteKeys() []string
		Scope(string) string
	}
	builders := map[string]func(context.Context, app.Deps) (api, error){
		"PublicApiFunction": func(ctx context.Context, d app.Deps) (api, error) { return publicapi.New(ctx, d) },
		"AdminApiFunction":  func(ctx context.Context, d app.Deps) (api, error) { return adminapi.New(ctx, d) },
	}
	for fn, build := range builders {
		env, err := s.FunctionEnv(fn, map[string]string{"SUBJECT_IDENTITY_VERIFICATION_REQUIRED": "true"})
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		d := app.Deps{Config: cfg, AWS: awsCfg, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now}
		api, err := build(context.Background(), d)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		served := map[string]bool{}
		for _, key := range api.RouteKeys() {
			served[key] = true
		}
		for _, r := range routes {
			if r.Function == fn && !served[r.Key()] {
				t.Errorf("template.yaml routes %q to %s, which does not serve it", r.Key(), fn)
			}
		}
		for _, key := range api.RouteKeys() {
			r, ok := declared[key]
			switch {
			case !ok:
				t.Errorf("%s serves %q, which template.yaml does not declare", fn, key)
			case r.Function != fn:
				t.Errorf("%q is declared for %s but served by %s", key, r.Function, fn)
			case r.Authorized != (api.Scope(key) != ""):
				t.Errorf("%q: authorizer %v but scope %q", key, r.Authorized, api.Scope(key))
			}
		}
	}
}

func TestAPIsNeedTheRequestsTable(t *testing.T) {
	d := app.Deps{AWS: aws.Config{Region: "us-east-1"}, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now}
	if _, err := publicapi.New(context.Background(), d); err == nil {
		t.Error("public API built without REQUESTS_TABLE")
	}
	d.Config.RequestsTable, d.Config.ConfigTable, d.Config.ReplyTokenSecretID = "requests", "config", "secret"
	d.Config.IdentityVerificationRequired = true
	if _, err := publicapi.New(context.Background(), d); err == nil {
		t.Error("public API built with verification on but no VERIFICATION_SENDER_EMAIL")
	}
}

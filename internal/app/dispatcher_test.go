package app_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/pregate/pregate/internal/app"
	"github.com/pregate/pregate/internal/app/dispatcher"
	"github.com/pregate/pregate/internal/awstest"
	"github.com/pregate/pregate/internal/config"
)

// TestDispatcherBuildsFromTheTemplate builds the dispatcher from
// DispatcherFunction's environment in template.yaml.
func TestDispatcherBuildsFromTheTemplate(t *testing.T) {
	s, awsCfg := awstest.Stack(t)
	env, err := s.FunctionEnv("DispatcherFunction", map[string]string{"PUBLIC_BASE_URL": "https://gate.example/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	d := app.Deps{Config: cfg, AWS: awsCfg, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Now: time.Now}
	h, err := dispatcher.New(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if h.QueueURL == "" || h.QueueURL != cfg.DispatchQueueURL {
		t.Fatalf("queue url %q", h.QueueURL)
	}
	d.Config.PublicBaseURL = ""
	if _, err := dispatcher.New(context.Background(), d); err == nil {
		t.Fatal("dispatcher built without PUBLIC_BASE_URL")
	}
}

// Command pregate-local is `make run`: the whole system on 127.0.0.1 until Ctrl-C.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
	"github.com/pregate/pregate/internal/app"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3000", "address of the local API gateway")
	verbose := flag.Bool("v", false, "debug logs")
	flag.Parse()

	var level slog.LevelVar
	if v := os.Getenv("LOG_LEVEL"); v != "" {
		if err := level.UnmarshalText([]byte(v)); err != nil {
			fail(fmt.Errorf("LOG_LEVEL: %w", err))
		}
	}
	if *verbose {
		level.Set(slog.LevelDebug)
	}
	logger := app.NewLogger(os.Stderr, &level)
	root, err := local.Root()
	if err != nil {
		fail(err)
	}
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		fail(err)
	}
	// Settings set in the shell win over the local defaults.
	env := map[string]string{}
	for _, k := range local.ShellSettings(tmpl) {
		if v, ok := os.LookupEnv(k); ok {
			env[k] = v
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	startCtx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	sys, err := local.Start(startCtx, local.Options{Root: root, Addr: *addr, Env: env, Log: logger, Metrics: os.Stderr,
		Endpoint: os.Getenv("AWS_ENDPOINT_URL"), Prefix: "pregate-local"})
	cancel()
	if err != nil {
		fail(err)
	}
	fmt.Printf("pregate local stack ready in %s\n%s", time.Since(start).Round(time.Millisecond), sys.Describe())
	fmt.Println("Ctrl-C to stop.")
	var mailer sync.WaitGroup
	if sys.Config.IdentityVerificationRequired {
		mailer.Go(func() { printMail(ctx, sys, logger) })
	}
	<-ctx.Done()
	fmt.Println("stopping...")
	// The functions' background reads (key sets, the identity key) fail
	// against the emulator being stopped: expected, so not worth a warning.
	level.Set(slog.LevelError)
	mailer.Wait()
	sys.Stop()
	// Returning exits 0: Ctrl-C is how make run is meant to end.
}

// printMail prints each mail the system sends (identity verification codes)
// as it arrives, so that a developer trying the public API sees the code
// without calling the outbox route.
func printMail(ctx context.Context, sys *local.System, logger *slog.Logger) {
	printed := 0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		mails, err := sys.Outbox(ctx)
		if err != nil {
			if ctx.Err() == nil {
				logger.Warn("read the local outbox", "error", err.Error())
			}
			continue
		}
		for _, m := range mails[min(printed, len(mails)):] {
			fmt.Printf("mail to %s: %s\n%s\n", strings.Join(m.To, ", "), m.Subject, m.Body)
		}
		printed = max(printed, len(mails))
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "pregate-local:", err)
	os.Exit(1)
}

// Command validator is an example pre-approval validator built on the
// validator SDK (github.com/pregate/pregate/validator): it checks each call's
// Standard Webhooks signature, acknowledges it with 202, and answers through
// reply-to-base-url with the reply token: eligible, unless the subject's
// email is on its deny list.
//
//	go run ./examples/validator -addr 127.0.0.1:8099 -signing-secret whsec_... -deny blocked@example.com
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/pregate/pregate/validator"
)

// denyList is the rule: the emails (lower case) that are not eligible.
type denyList map[string]bool

func parseDenyList(csv string) denyList {
	d := denyList{}
	for _, e := range strings.Split(csv, ",") {
		if e = strings.TrimSpace(strings.ToLower(e)); e != "" {
			d[e] = true
		}
	}
	return d
}

// Decide is the validator.Handler's decision function.
func (d denyList) Decide(_ context.Context, c *validator.Call) (validator.Decision, error) {
	if d[strings.ToLower(c.Identity.Email)] {
		return validator.NotEligible, nil
	}
	return validator.Eligible, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8099", "listen address")
	secret := flag.String("signing-secret", os.Getenv("WEBHOOK_SIGNING_SECRET"),
		"the webhook's signing secret (whsec_...), shown when the webhook was created; during a rotation, the new and the old one, comma-separated")
	deny := flag.String("deny", "", "comma-separated emails to answer not eligible")
	flag.Parse()
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	if err := run(*addr, strings.Split(*secret, ","), parseDenyList(*deny), log); err != nil {
		fmt.Fprintln(os.Stderr, "validator:", err)
		os.Exit(1)
	}
}

// run serves until SIGINT or SIGTERM, then lets answers in flight finish.
func run(addr string, secrets []string, deny denyList, log *slog.Logger) error {
	verifier, err := validator.NewVerifier(secrets...)
	if err != nil {
		return fmt.Errorf("%w (set -signing-secret or WEBHOOK_SIGNING_SECRET)", err)
	}
	h := &validator.Handler{Verifier: verifier, Decide: deny.Decide, Log: log}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("validator listening", "addr", addr)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-closed // no call is being checked any more, so no answer can start
	h.Wait()
	return nil
}

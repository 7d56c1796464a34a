package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
)

// OutboxMail is one email the system sent through the emulator's SES.
type OutboxMail struct {
	To      []string `json:"to"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
}

// verifySender makes the sender an SES identity, as the deployer does in AWS:
// moto, like SES in the sandbox, refuses mail from an unverified address.
func verifySender(ctx context.Context, cfg aws.Config, sender string) error {
	if sender == "" {
		return nil
	}
	_, err := sesv2.NewFromConfig(cfg).CreateEmailIdentity(ctx, &sesv2.CreateEmailIdentityInput{EmailIdentity: &sender})
	if err != nil {
		return fmt.Errorf("verify sender %s: %w", sender, err)
	}
	return nil
}

// Outbox lists the mail sent so far (identity verification codes),
// read from moto's model dump: SES keeps no API to read sent mail back.
func (s *System) Outbox(ctx context.Context) ([]OutboxMail, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, aws.ToString(s.AWS.BaseEndpoint)+"/moto-api/data.json", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("read the emulator's outbox: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("read the emulator's outbox: HTTP %d (only moto keeps one)", resp.StatusCode)
	}
	var dump struct {
		SES struct {
			Message []struct {
				Destinations struct {
					ToAddresses []string `json:"ToAddresses"`
				} `json:"destinations"`
				Subject string `json:"subject"`
				Body    string `json:"body"`
			} `json:"Message"`
		} `json:"ses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&dump); err != nil {
		return nil, fmt.Errorf("decode the emulator's outbox: %w", err)
	}
	mails := make([]OutboxMail, 0, len(dump.SES.Message))
	for _, m := range dump.SES.Message {
		mails = append(mails, OutboxMail{To: m.Destinations.ToAddresses, Subject: m.Subject, Body: m.Body})
	}
	return mails, nil
}

// outboxHandler serves GET /api/v1/local/outbox (local gateway only, never in
// the template): {"items": [mail...]}, oldest first.
func (s *System) outboxHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mails, err := s.Outbox(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"detail": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": mails})
	})
}

package local

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/pregate/pregate/internal/notify"
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
	if err := s.motoData(ctx, &dump); err != nil {
		return nil, err
	}
	mails := make([]OutboxMail, 0, len(dump.SES.Message))
	for _, m := range dump.SES.Message {
		mails = append(mails, OutboxMail{To: m.Destinations.ToAddresses, Subject: m.Subject, Body: m.Body})
	}
	return mails, nil
}

// motoData decodes moto's model dump into dump.
func (s *System) motoData(ctx context.Context, dump any) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, aws.ToString(s.AWS.BaseEndpoint)+"/moto-api/data.json", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("read the emulator's data: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("read the emulator's data: HTTP %d (only moto keeps it)", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(dump); err != nil {
		return fmt.Errorf("decode the emulator's data: %w", err)
	}
	return nil
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

// Notification is one message published to the admins' notification topic.
type Notification struct {
	At               string `json:"at"`
	Kind             string `json:"kind"`
	Subject          string `json:"subject"`
	Message          string `json:"message"`
	PrivacyRequestID string `json:"privacy_request_id"`
}

// Notifications lists what was published to the notification topic, newest
// first, read from moto's model dump as Outbox reads mail: SNS keeps no API
// to read published messages back.
func (s *System) Notifications(ctx context.Context) ([]Notification, error) {
	var dump struct {
		SNS struct {
			Topic []struct {
				Arn string `json:"arn"`
				// [message id, message, subject, attributes, group id]
				SentNotifications [][]json.RawMessage `json:"sent_notifications"`
			} `json:"Topic"`
		} `json:"sns"`
	}
	if err := s.motoData(ctx, &dump); err != nil {
		return nil, err
	}
	topic := s.Stack.Resources["NotificationTopic"].Ref
	out := []Notification{}
	for _, t := range dump.SNS.Topic {
		if t.Arn != topic {
			continue
		}
		for _, sent := range t.SentNotifications {
			if len(sent) < 4 {
				return nil, fmt.Errorf("the emulator's notification record has %d fields", len(sent))
			}
			var n Notification
			var attrs map[string]struct {
				Value string `json:"Value"`
			}
			if json.Unmarshal(sent[1], &n.Message) != nil || json.Unmarshal(sent[2], &n.Subject) != nil || json.Unmarshal(sent[3], &attrs) != nil {
				return nil, fmt.Errorf("decode the emulator's notification record")
			}
			n.Kind, n.At, n.PrivacyRequestID = attrs[notify.AttrKind].Value, attrs[notify.AttrAt].Value, attrs[notify.AttrPrivacyRequestID].Value
			out = append(out, n)
		}
	}
	slices.Reverse(out)
	return out, nil
}

// notificationsHandler serves GET /api/v1/local/notifications (local
// gateway only, never in the template): {"items": [notification...]}, newest first.
func (s *System) notificationsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		items, err := s.Notifications(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			_ = json.NewEncoder(w).Encode(map[string]string{"detail": err.Error()})
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
	})
}

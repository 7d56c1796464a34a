package stack

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/pregate/pregate/internal/schedule"
)

// ref is the logical id a {"Ref": id} names, "" for anything else.
func ref(v any) string {
	s, _ := Dig(v, "Ref").(string)
	return s
}

// grants reports whether a function's policies have a statement allowing
// action on resource (a Ref to it).
func grants(fn Resource, action, resource string) bool {
	policies, _ := fn.Properties["Policies"].([]any)
	for _, p := range policies {
		stmts, _ := Dig(p, "Statement").([]any)
		for _, st := range stmts {
			actions, ok := Dig(st, "Action").([]any)
			if !ok {
				actions = []any{Dig(st, "Action")}
			}
			for _, a := range actions {
				if a == action && ref(Dig(st, "Resource")) == resource {
					return true
				}
			}
		}
	}
	return false
}

// TestNotificationTopicIsEncryptedAndSubscribedByParameter: the admins'
// notifications go to an SNS topic encrypted with a customer managed key
// of the stack, an email subscription comes from a parameter, and the
// functions that tell the admins may publish there.
func TestNotificationTopicIsEncryptedAndSubscribedByParameter(t *testing.T) {
	tmpl := repoTemplate(t)
	topic := tmpl.Resources["NotificationTopic"]
	if topic.Type != "AWS::SNS::Topic" {
		t.Fatalf("NotificationTopic is a %q", topic.Type)
	}
	key := ""
	if getAtt, ok := Dig(topic.Properties, "KmsMasterKeyId", "Fn::GetAtt").([]any); ok && len(getAtt) == 2 {
		key = fmt.Sprint(getAtt[0])
	} else {
		key = ref(topic.Properties["KmsMasterKeyId"])
	}
	if tmpl.Resources[key].Type != "AWS::KMS::Key" {
		t.Errorf("NotificationTopic is encrypted with %v, want a customer managed key of the stack", topic.Properties["KmsMasterKeyId"])
	}
	var subscribed bool
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::SNS::Subscription" || ref(r.Properties["TopicArn"]) != "NotificationTopic" {
			continue
		}
		param := ref(r.Properties["Endpoint"])
		if _, ok := tmpl.Parameters[param]; !ok || r.Properties["Protocol"] != "email" {
			t.Errorf("%s subscribes %v by %v, want an email address from a parameter", id, r.Properties["Endpoint"], r.Properties["Protocol"])
		}
		subscribed = true
	}
	if !subscribed {
		t.Error("no subscription of NotificationTopic")
	}
	if ref(tmpl.GlobalEnv["NOTIFICATION_TOPIC_ARN"]) != "NotificationTopic" {
		t.Errorf("NOTIFICATION_TOPIC_ARN is %v", tmpl.GlobalEnv["NOTIFICATION_TOPIC_ARN"])
	}
	// Requests that need review (the stream), failing webhooks (the
	// dispatcher), the daily digest (the reconciler).
	for _, fn := range []string{"StreamFunction", "DispatcherFunction", "ReconcilerFunction"} {
		if !grants(tmpl.Resources[fn], "sns:Publish", "NotificationTopic") {
			t.Errorf("%s may not publish to NotificationTopic", fn)
		}
	}
}

// dailyCron matches an EventBridge cron expression that fires once a day.
var dailyCron = regexp.MustCompile(`^cron\((\d{1,2}) (\d{1,2}) \* \* \? \*\)$`)

// TestDailyDigestRunsOnItsOwnSchedule: the reconciler has a second
// schedule, once a day, whose input is the digest's event; the every-minute
// one's is not.
func TestDailyDigestRunsOnItsOwnSchedule(t *testing.T) {
	fn := repoTemplate(t).Resources["ReconcilerFunction"]
	digest := Dig(fn.Properties, "Events", "DailyDigest")
	if Dig(digest, "Type") != "Schedule" || !dailyCron.MatchString(scalarString(Dig(digest, "Properties", "Schedule"))) {
		t.Fatalf("ReconcilerFunction's DailyDigest event: %v, want a daily cron schedule", digest)
	}
	var ev schedule.Event
	if err := json.Unmarshal([]byte(scalarString(Dig(digest, "Properties", "Input"))), &ev); err != nil || !ev.Digest {
		t.Errorf("DailyDigest input %v is not the digest's event (%v)", Dig(digest, "Properties", "Input"), err)
	}
	if in := Dig(fn.Properties, "Events", "Schedule", "Properties", "Input"); in != nil {
		t.Errorf("the every-minute schedule has input %v: it would not reconcile", in)
	}
}

// TestIdentityHashKeyIsAGeneratedSecret: the key of the identity hash is a
// Secrets Manager secret the stack generates, long enough for the functions
// (which refuse one under 32 characters), kept when the stack goes, and read
// by the two functions that hash identities.
func TestIdentityHashKeyIsAGeneratedSecret(t *testing.T) {
	tmpl := repoTemplate(t)
	key := tmpl.Resources["IdentityHashKey"]
	n, err := strconv.Atoi(scalarString(Dig(key.Properties, "GenerateSecretString", "PasswordLength")))
	if key.Type != "AWS::SecretsManager::Secret" || err != nil || n < 32 {
		t.Fatalf("IdentityHashKey: %s %v, want a generated secret of at least 32 characters", key.Type, key.Properties)
	}
	if ref(tmpl.GlobalEnv["IDENTITY_HASH_SECRET_ID"]) != "IdentityHashKey" {
		t.Errorf("IDENTITY_HASH_SECRET_ID is %v", tmpl.GlobalEnv["IDENTITY_HASH_SECRET_ID"])
	}
	for _, fn := range []string{"AdminApiFunction", "PublicApiFunction"} {
		policies, _ := tmpl.Resources[fn].Properties["Policies"].([]any)
		reads := false
		for _, p := range policies {
			reads = reads || ref(Dig(p, "AWSSecretsManagerGetSecretValuePolicy", "SecretArn")) == "IdentityHashKey"
		}
		if !reads {
			t.Errorf("%s may not read IdentityHashKey", fn)
		}
	}
}

// TestEveryScheduleAndAlarmIsWatched: each schedule of a function has an
// alarm on EventBridge's failed invocations of its rule, and the
// dashboard shows every alarm.
func TestEveryScheduleAndAlarmIsWatched(t *testing.T) {
	tmpl := repoTemplate(t)
	watched := map[string]bool{}
	for _, r := range tmpl.Resources {
		if r.Type != "AWS::CloudWatch::Alarm" || r.Properties["MetricName"] != "FailedInvocations" {
			continue
		}
		dims, _ := r.Properties["Dimensions"].([]any)
		for _, d := range dims {
			if Dig(d, "Name") == "RuleName" {
				watched[ref(Dig(d, "Value"))] = true
			}
		}
	}
	for id, r := range tmpl.Resources {
		events, _ := r.Properties["Events"].(map[string]any)
		for name, e := range events {
			// SAM names a schedule's rule after its function and event.
			if Dig(e, "Type") == "Schedule" && !watched[id+name] {
				t.Errorf("schedule %s of %s has no alarm on its rule's FailedInvocations", name, id)
			}
		}
	}
	body, _ := Dig(tmpl.Resources["Dashboard"].Properties, "DashboardBody", "Fn::Sub").(string)
	for id, r := range tmpl.Resources {
		if r.Type == "AWS::CloudWatch::Alarm" && !strings.Contains(body, "${"+id+".Arn}") {
			t.Errorf("the dashboard does not show alarm %s", id)
		}
	}
}

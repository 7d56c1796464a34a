package local_test

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
)

// callLog records which AWS operations each function's invocations make, so
// that a journey can hold them against the function's IAM policy in
// template.yaml: a call the policy does not allow would be refused in AWS,
// and moto does not check.
type callLog struct {
	mu    sync.Mutex
	calls map[string]map[string]bool // function -> IAM action
}

var journeyCalls = &callLog{calls: map[string]map[string]bool{}}

// iamPrefix maps the SDK's service ids to IAM's action prefixes.
var iamPrefix = map[string]string{
	"DynamoDB": "dynamodb", "SQS": "sqs", "KMS": "kms", "Secrets Manager": "secretsmanager", "SESv2": "ses", "SNS": "sns", "CloudWatch": "cloudwatch",
}

// iamAction is the action IAM checks for an operation (batch calls are
// authorised by their single action).
func iamAction(service, op string) string {
	switch service + "/" + op {
	case "SQS/SendMessageBatch":
		op = "SendMessage"
	case "SQS/DeleteMessageBatch":
		op = "DeleteMessage"
	case "SQS/ChangeMessageVisibilityBatch":
		op = "ChangeMessageVisibility"
	}
	p, ok := iamPrefix[service]
	if !ok {
		p = "unknown-service(" + service + ")"
	}
	return p + ":" + op
}

func (l *callLog) install(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(st *middleware.Stack) error {
		return st.Finalize.Add(middleware.FinalizeMiddlewareFunc("JourneyCallLog",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if fn := local.FunctionOf(ctx); fn != "" {
					l.mu.Lock()
					if l.calls[fn] == nil {
						l.calls[fn] = map[string]bool{}
					}
					l.calls[fn][iamAction(awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx))] = true
					l.mu.Unlock()
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// samPolicyActions are the actions of the SAM policy templates the template uses.
var samPolicyActions = map[string][]string{
	"DynamoDBStreamReadPolicy":              {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"},
	"SQSSendMessagePolicy":                  {"sqs:SendMessage*"},
	"SQSPollerPolicy":                       {"sqs:ChangeMessageVisibility", "sqs:ChangeMessageVisibilityBatch", "sqs:DeleteMessage", "sqs:DeleteMessageBatch", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"},
	"AWSSecretsManagerGetSecretValuePolicy": {"secretsmanager:GetSecretValue"},
}

// grantedActions lists the actions a function's Policies allow (both
// branches of an Fn::If), or an error naming a policy it cannot read.
func grantedActions(fn stack.Resource) ([]string, error) {
	var out []string
	var walk func(v any) error
	walk = func(v any) error {
		m, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("policy %v is not a mapping", v)
		}
		for name, body := range m {
			switch {
			case name == "Fn::If":
				args, _ := body.([]any)
				for _, branch := range args[1:] {
					if b, ok := branch.(map[string]any); ok && b["Ref"] != "AWS::NoValue" {
						if err := walk(b); err != nil {
							return err
						}
					}
				}
			case name == "Statement":
				stmts, _ := body.([]any)
				for _, s := range stmts {
					switch a := stack.Dig(s, "Action").(type) {
					case string:
						out = append(out, a)
					case []any:
						for _, x := range a {
							out = append(out, fmt.Sprint(x))
						}
					}
				}
			case samPolicyActions[name] != nil:
				out = append(out, samPolicyActions[name]...)
			default:
				return fmt.Errorf("policy template %s: its actions are not in samPolicyActions", name)
			}
		}
		return nil
	}
	policies, _ := fn.Properties["Policies"].([]any)
	for _, p := range policies {
		if err := walk(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// checkCallsAgainstPolicies fails for every call a function made that its
// policy in template.yaml does not allow. DynamoDB's TransactWriteItems is
// authorised per item (PutItem, UpdateItem, DeleteItem, ConditionCheckItem),
// so it needs at least one of those.
func (l *callLog) check(t *testing.T, tmpl *stack.Template) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.calls) == 0 {
		t.Fatal("no AWS call was recorded inside a function invocation")
	}
	var refused []string
	for fn, actions := range l.calls {
		granted, err := grantedActions(tmpl.Resources[fn])
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		allowed := func(action string) bool {
			for _, g := range granted {
				if ok, _ := path.Match(g, action); ok {
					return true
				}
			}
			return false
		}
		for action := range actions {
			ok := allowed(action)
			if action == "dynamodb:TransactWriteItems" {
				ok = allowed("dynamodb:PutItem") || allowed("dynamodb:UpdateItem") || allowed("dynamodb:DeleteItem") || allowed("dynamodb:ConditionCheckItem")
			}
			if !ok {
				refused = append(refused, fn+" calls "+action)
			}
		}
	}
	sort.Strings(refused)
	if len(refused) > 0 {
		t.Errorf("template.yaml's policies do not allow:\n  %s", strings.Join(refused, "\n  "))
	}
}

func TestGrantedActionsReadsTheTemplatesPolicies(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(root + "/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		got, err := grantedActions(r)
		if err != nil {
			t.Errorf("%s: %v", id, err)
		}
		if len(got) == 0 {
			t.Errorf("%s: no action read from its policies", id)
		}
	}
	if granted, _ := grantedActions(tmpl.Resources["AdminApiFunction"]); slices.Contains(granted, "dynamodb:Scan") {
		t.Errorf("the admin API may Scan: %v", granted)
	}
}

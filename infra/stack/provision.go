package stack

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Physical is a created resource: what !Ref and !GetAtt resolve to.
type Physical struct {
	Ref   string
	Attrs map[string]string
}

// Stack is a template brought up on an endpoint.
type Stack struct {
	Template  *Template
	Resources map[string]Physical
	Region    string
	Account   string
}

// Provision creates the template's DynamoDB tables, SQS queues, KMS keys,
// Secrets Manager secrets and SNS topics, named "<prefix>-<LogicalId>". Other resource types
// (functions, API, Cognito, alarms) are played locally by the gateway and
// pollers, or are not needed off AWS.
func Provision(ctx context.Context, cfg aws.Config, t *Template, prefix string) (*Stack, error) {
	s := &Stack{Template: t, Resources: map[string]Physical{}, Region: cfg.Region, Account: "123456789012"}
	ids := make([]string, 0, len(t.Resources))
	for id := range t.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	// Queues first without redrive targets, so a queue can point at its DLQ whatever the order.
	ddb, q, k, sm := dynamodb.NewFromConfig(cfg), sqs.NewFromConfig(cfg), kms.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	topics := sns.NewFromConfig(cfg)
	for _, id := range ids {
		r := t.Resources[id]
		name := prefix + "-" + id
		var err error
		switch r.Type {
		case "AWS::DynamoDB::Table":
			err = s.createTable(ctx, ddb, id, name, r.Properties)
		case "AWS::SQS::Queue":
			err = s.createQueue(ctx, q, id, name, r.Properties)
		case "AWS::KMS::Key":
			err = s.createKey(ctx, k, id, r.Properties)
		case "AWS::SecretsManager::Secret":
			err = s.createSecret(ctx, sm, id, name, r.Properties)
		case "AWS::SNS::Topic":
			err = s.createTopic(ctx, topics, id, name)
		}
		if err != nil {
			return nil, fmt.Errorf("provision %s: %w", id, err)
		}
	}
	for _, id := range ids {
		r := t.Resources[id]
		if r.Type != "AWS::SQS::Queue" || r.Properties["RedrivePolicy"] == nil {
			continue
		}
		if err := s.setRedrive(ctx, q, id, r.Properties["RedrivePolicy"]); err != nil {
			return nil, fmt.Errorf("provision %s redrive: %w", id, err)
		}
	}
	return s, nil
}

func (s *Stack) createTable(ctx context.Context, c *dynamodb.Client, id, name string, p map[string]any) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(name), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, a := range list(p["AttributeDefinitions"]) {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(str(a, "AttributeName")), AttributeType: ddbtypes.ScalarAttributeType(str(a, "AttributeType")),
		})
	}
	in.KeySchema = keySchema(p["KeySchema"])
	for _, g := range list(p["GlobalSecondaryIndexes"]) {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, ddbtypes.GlobalSecondaryIndex{
			IndexName:  aws.String(str(g, "IndexName")),
			KeySchema:  keySchema(Dig(g, "KeySchema")),
			Projection: &ddbtypes.Projection{ProjectionType: ddbtypes.ProjectionType(str(Dig(g, "Projection"), "ProjectionType"))},
		})
	}
	if view := str(p["StreamSpecification"], "StreamViewType"); view != "" {
		in.StreamSpecification = &ddbtypes.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: ddbtypes.StreamViewType(view)}
	}
	out, err := c.CreateTable(ctx, in)
	if err != nil {
		return err
	}
	attrs := map[string]string{"Arn": aws.ToString(out.TableDescription.TableArn)}
	if out.TableDescription.LatestStreamArn != nil {
		attrs["StreamArn"] = *out.TableDescription.LatestStreamArn
	}
	s.Resources[id] = Physical{Ref: name, Attrs: attrs}
	return dynamodb.NewTableExistsWaiter(c).Wait(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)}, 30e9)
}

func keySchema(v any) []ddbtypes.KeySchemaElement {
	var ks []ddbtypes.KeySchemaElement
	for _, k := range list(v) {
		ks = append(ks, ddbtypes.KeySchemaElement{AttributeName: aws.String(str(k, "AttributeName")), KeyType: ddbtypes.KeyType(str(k, "KeyType"))})
	}
	return ks
}

func (s *Stack) createQueue(ctx context.Context, c *sqs.Client, id, name string, p map[string]any) error {
	attrs := map[string]string{}
	if str(p, "FifoQueue") == "true" {
		name += ".fifo"
		attrs[string(sqstypes.QueueAttributeNameFifoQueue)] = "true"
		attrs[string(sqstypes.QueueAttributeNameContentBasedDeduplication)] = orDefault(str(p, "ContentBasedDeduplication"), "false")
	}
	for prop, attr := range map[string]sqstypes.QueueAttributeName{
		"VisibilityTimeout":      sqstypes.QueueAttributeNameVisibilityTimeout,
		"MessageRetentionPeriod": sqstypes.QueueAttributeNameMessageRetentionPeriod,
		"DelaySeconds":           sqstypes.QueueAttributeNameDelaySeconds,
	} {
		if v := str(p, prop); v != "" {
			attrs[string(attr)] = v
		}
	}
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		return err
	}
	got, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		return err
	}
	s.Resources[id] = Physical{Ref: *out.QueueUrl, Attrs: map[string]string{"Arn": got.Attributes["QueueArn"], "QueueName": name, "QueueUrl": *out.QueueUrl}}
	return nil
}

func (s *Stack) setRedrive(ctx context.Context, c *sqs.Client, id string, policy any) error {
	target, err := s.Resolve(Dig(policy, "deadLetterTargetArn"))
	if err != nil {
		return err
	}
	raw, _ := json.Marshal(map[string]string{"deadLetterTargetArn": target, "maxReceiveCount": str(policy, "maxReceiveCount")})
	_, err = c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(s.Resources[id].Ref), Attributes: map[string]string{string(sqstypes.QueueAttributeNameRedrivePolicy): string(raw)},
	})
	return err
}

func (s *Stack) createKey(ctx context.Context, c *kms.Client, id string, p map[string]any) error {
	out, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String(str(p, "Description"))})
	if err != nil {
		return err
	}
	s.Resources[id] = Physical{Ref: *out.KeyMetadata.KeyId, Attrs: map[string]string{"Arn": *out.KeyMetadata.Arn, "KeyId": *out.KeyMetadata.KeyId}}
	return nil
}

func (s *Stack) createSecret(ctx context.Context, c *secretsmanager.Client, id, name string, p map[string]any) error {
	value, err := generateSecretString(Dig(p, "GenerateSecretString"))
	if err != nil {
		return err
	}
	if v := str(p, "SecretString"); v != "" {
		value = v
	}
	out, err := c.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(value)})
	if err != nil {
		return err
	}
	s.Resources[id] = Physical{Ref: *out.ARN, Attrs: map[string]string{"Id": *out.ARN}}
	return nil
}

// createTopic creates a topic without its KMS key: the emulator does not
// encrypt, and the keys are provisioned after it in name order.
func (s *Stack) createTopic(ctx context.Context, c *sns.Client, id, name string) error {
	out, err := c.CreateTopic(ctx, &sns.CreateTopicInput{Name: aws.String(name)})
	if err != nil {
		return err
	}
	s.Resources[id] = Physical{Ref: *out.TopicArn, Attrs: map[string]string{"TopicArn": *out.TopicArn, "TopicName": name}}
	return nil
}

// generateSecretString plays Secrets Manager's GenerateSecretString for the
// options the template uses: a JSON template plus one generated key.
func generateSecretString(spec any) (string, error) {
	if spec == nil {
		return "", nil
	}
	length := 32
	if n, err := fmt.Sscan(str(spec, "PasswordLength"), &length); n != 1 || err != nil {
		length = 32
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, length)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		b[i] = alphabet[n.Int64()]
	}
	tmpl := str(spec, "SecretStringTemplate")
	if tmpl == "" {
		return string(b), nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(tmpl), &m); err != nil {
		return "", fmt.Errorf("SecretStringTemplate: %w", err)
	}
	m[str(spec, "GenerateStringKey")] = string(b)
	out, err := json.Marshal(m)
	return string(out), err
}

// Resolve evaluates a template value: plain scalars, Ref, Fn::GetAtt, Fn::Sub
// and Fn::If over Fn::Equals / Fn::Not conditions, with parameters at their defaults.
func (s *Stack) Resolve(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case map[string]any:
		if ref, ok := x["Ref"].(string); ok {
			return s.ref(ref)
		}
		if ga, ok := x["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return s.getAtt(fmt.Sprint(ga[0]), fmt.Sprint(ga[1]))
		}
		if sub, ok := x["Fn::Sub"].(string); ok {
			return s.sub(sub)
		}
		if args, ok := x["Fn::If"].([]any); ok && len(args) == 3 {
			cond, err := s.condition(fmt.Sprint(args[0]))
			if err != nil {
				return "", err
			}
			if cond {
				return s.Resolve(args[1])
			}
			return s.Resolve(args[2])
		}
	}
	return "", fmt.Errorf("cannot resolve %v locally", v)
}

func (s *Stack) ref(name string) (string, error) {
	switch name {
	case "AWS::Region":
		return s.Region, nil
	case "AWS::AccountId":
		return s.Account, nil
	case "AWS::Partition":
		return "aws", nil
	}
	if p, ok := s.Resources[name]; ok {
		return p.Ref, nil
	}
	if v, ok := s.Template.Parameters[name]; ok {
		return v, nil
	}
	return "", fmt.Errorf("!Ref %s: not a parameter or a locally provisioned resource", name)
}

func (s *Stack) getAtt(id, attr string) (string, error) {
	if v, ok := s.Resources[id].Attrs[attr]; ok {
		return v, nil
	}
	return "", fmt.Errorf("!GetAtt %s.%s: not available locally", id, attr)
}

func (s *Stack) sub(text string) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			return b.String(), nil
		}
		j := strings.Index(text[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("!Sub %q: unclosed ${", text)
		}
		b.WriteString(text[:i])
		name := text[i+2 : i+j]
		var v string
		var err error
		if id, attr, ok := strings.Cut(name, "."); ok {
			v, err = s.getAtt(id, attr)
		} else {
			v, err = s.ref(name)
		}
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		text = text[i+j+1:]
	}
}

// condition evaluates a template condition with the parameters' defaults:
// Fn::Equals, Fn::Not, Fn::And, Fn::Or and Condition, over values Resolve knows.
func (s *Stack) condition(name string) (bool, error) {
	c, ok := s.Template.Conditions[name]
	if !ok {
		return false, fmt.Errorf("condition %s: not in the template", name)
	}
	v, err := s.evalCondition(c)
	if err != nil {
		return false, fmt.Errorf("condition %s: %w", name, err)
	}
	return v, nil
}

func (s *Stack) evalCondition(c any) (bool, error) {
	m, ok := c.(map[string]any)
	if !ok || len(m) != 1 {
		return false, fmt.Errorf("cannot evaluate %v locally", c)
	}
	for fn, arg := range m {
		switch fn {
		case "Condition":
			return s.condition(fmt.Sprint(arg))
		case "Fn::Equals":
			args := list(arg)
			if len(args) != 2 {
				return false, fmt.Errorf("Fn::Equals needs two values: %v", arg)
			}
			a, err := s.Resolve(args[0])
			if err != nil {
				return false, err
			}
			b, err := s.Resolve(args[1])
			return a == b, err
		case "Fn::Not", "Fn::And", "Fn::Or":
			args := list(arg)
			if len(args) == 0 || (fn == "Fn::Not" && len(args) != 1) {
				return false, fmt.Errorf("%s: bad arguments %v", fn, arg)
			}
			all, anyTrue := true, false
			for _, a := range args {
				v, err := s.evalCondition(a)
				if err != nil {
					return false, err
				}
				all, anyTrue = all && v, anyTrue || v
			}
			switch fn {
			case "Fn::Not":
				return !all, nil
			case "Fn::And":
				return all, nil
			}
			return anyTrue, nil
		}
	}
	return false, fmt.Errorf("cannot evaluate %v locally", c)
}

// FunctionEnv resolves a function's environment. overrides win and are not
// resolved; a variable that cannot be resolved locally must be overridden.
func (s *Stack) FunctionEnv(function string, overrides map[string]string) (map[string]string, error) {
	env := map[string]string{}
	for k, v := range s.Template.FunctionEnv(function) {
		if o, ok := overrides[k]; ok {
			env[k] = o
			continue
		}
		r, err := s.Resolve(v)
		if err != nil {
			return nil, fmt.Errorf("%s env %s: %w", function, k, err)
		}
		env[k] = r
	}
	for k, v := range overrides {
		env[k] = v
	}
	return env, nil
}

func list(v any) []any { l, _ := v.([]any); return l }

func str(v any, key string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	return scalarString(m[key])
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

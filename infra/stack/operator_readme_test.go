package stack

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The docs' AWS commands cannot run here (they need a deployed stack), so
// these tests hold what they name against the files that define it: the
// template's outputs, resources, parameters, environment and alarms, and
// samconfig.toml's stacks.

// operatorPages are the pages whose shell blocks are read: every user page
// that may run an AWS command.
var operatorPages = []string{"README.md", "docs/deploy.md", "docs/operate.md", "docs/admin.md", "docs/configuration.md", "docs/security.md"}

// operatorDocs is the text of operatorPages, one after the other.
func operatorDocs(t *testing.T) string {
	var all strings.Builder
	for _, page := range operatorPages {
		_, text := repoFile(t, page)
		all.WriteString(text + "\n")
	}
	return all.String()
}

// tableRows returns the first cell of every table row of a Markdown text
// whose first cell starts with a code span or a dash, keyed by that cell,
// with the whole row as value.
func tableRows(text string) map[string]string {
	rows := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "| `") || strings.HasPrefix(line, "| — |") {
			first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
			rows[first+"\x00"+line] = line
		}
	}
	return rows
}

func repoFile(t *testing.T, name string) (string, string) {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root, err := FindRoot(wd)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return root, string(raw)
}

func repoTemplate(t *testing.T) *Template {
	t.Helper()
	root, _ := repoFile(t, "template.yaml")
	tmpl, err := LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

// samconfigStacks maps each samconfig.toml environment to its stack name.
func samconfigStacks(t *testing.T) map[string]string {
	_, text := repoFile(t, "samconfig.toml")
	stacks := map[string]string{}
	env := ""
	section := regexp.MustCompile(`^\[([A-Za-z0-9_-]+)\.global\.parameters\]$`)
	name := regexp.MustCompile(`^stack_name\s*=\s*"([^"]+)"$`)
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if m := section.FindStringSubmatch(line); m != nil {
			env = m[1]
		} else if strings.HasPrefix(line, "[") {
			env = ""
		} else if m := name.FindStringSubmatch(line); m != nil && env != "" {
			stacks[env] = m[1]
		}
	}
	if len(stacks) == 0 {
		t.Fatal("samconfig.toml names no stack")
	}
	return stacks
}

// shellBlocks returns the README's ```sh blocks, continuation lines joined.
func shellBlocks(readme string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case !in && line == "```sh":
			in, cur = true, nil
		case in && line == "```":
			in = false
			blocks = append(blocks, strings.ReplaceAll(strings.Join(cur, "\n"), "\\\n", " "))
		case in:
			cur = append(cur, line)
		}
	}
	return blocks
}

func TestReadmeOperatorCommandsMatchTheTemplate(t *testing.T) {
	readme := operatorDocs(t)
	tmpl := repoTemplate(t)
	stacks := samconfigStacks(t)
	stackNames := map[string]bool{}
	for _, s := range stacks {
		stackNames[s] = true
	}
	var (
		stackAssign = regexp.MustCompile(`(?:^|[\s;])STACK=(\S+)`)
		stackFlag   = regexp.MustCompile(`--stack-name\s+(\S+)`)
		configEnv   = regexp.MustCompile(`--config-env\s+(\S+)`)
		outCall     = regexp.MustCompile(`\$\((?:out|saved)\s+([^\s)]+)\)`) // saved reads the outputs saved before a delete
		outputKey   = regexp.MustCompile(`OutputKey\s*==\s*['"]([^'"]+)['"]`)
		logicalID   = regexp.MustCompile(`--logical-resource-id\s+([^\s)]+)`)
		forLoop     = regexp.MustCompile(`for\s+(\w+)\s+in\s+([^;]+);`)
	)
	checked := map[string]int{}
	output := func(name string) {
		checked["output"]++
		if _, ok := tmpl.Outputs[name]; !ok {
			t.Errorf("the docs read output %q, which template.yaml's Outputs do not have", name)
		}
	}
	resource := func(name, line string, loops map[string][]string) {
		names := []string{name}
		if strings.HasPrefix(name, "$") {
			names = loops[strings.Trim(name, `$"{}`)]
			if names == nil {
				t.Errorf("the docs: %s is not a literal and not a loop variable: %s", name, line)
			}
		}
		for _, n := range names {
			checked["resource"]++
			if _, ok := tmpl.Resources[n]; !ok {
				t.Errorf("the docs name resource %q, which template.yaml does not define", n)
			}
		}
	}
	helpers := 0
	for _, block := range shellBlocks(readme) {
		loops := map[string][]string{}
		for _, m := range forLoop.FindAllStringSubmatch(block, -1) {
			loops[m[1]] = strings.Fields(m[2])
		}
		for _, line := range strings.Split(block, "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "#") {
				continue
			}
			for _, m := range stackAssign.FindAllStringSubmatch(line, -1) {
				checked["stack"]++
				if !stackNames[strings.Trim(m[1], `"'`)] {
					t.Errorf("the docs set STACK=%s; samconfig.toml deploys %v", m[1], stacks)
				}
			}
			for _, m := range stackFlag.FindAllStringSubmatch(line, -1) {
				checked["stack"]++
				if v := strings.Trim(m[1], `"'`); v != "$STACK" && !stackNames[v] {
					t.Errorf("the docs use --stack-name %s; use \"$STACK\" or a stack samconfig.toml deploys (%v)", m[1], stacks)
				}
			}
			for _, m := range configEnv.FindAllStringSubmatch(line, -1) {
				checked["stack"]++
				if _, ok := stacks[m[1]]; !ok {
					t.Errorf("the docs deploy --config-env %s, which samconfig.toml does not define", m[1])
				}
			}
			for _, m := range outCall.FindAllStringSubmatch(line, -1) {
				output(m[1])
			}
			for _, m := range outputKey.FindAllStringSubmatch(line, -1) {
				if m[1] != "$1" {
					output(m[1])
				}
			}
			for _, m := range logicalID.FindAllStringSubmatch(line, -1) {
				if m[1] != `"$1"` {
					resource(m[1], line, loops)
				}
			}
			if strings.HasPrefix(line, "out() {") {
				helpers++
				if !strings.Contains(line, `--stack-name "$STACK"`) {
					t.Errorf("the docs' helper does not read the stack named by $STACK: %s", line)
				}
			}
		}
	}
	if helpers != 1 {
		t.Errorf("the docs define the helper out() %d times, want once (docs/deploy.md)", helpers)
	}
	// The operator section reads outputs and names stacks; none found means the
	// parsing broke. Resources named by --logical-resource-id are checked
	// when a command uses one.
	for _, kind := range []string{"output", "stack"} {
		if checked[kind] == 0 {
			t.Errorf("found no %s reference in the docs' commands", kind)
		}
	}
}

// TestDocsDescribeEveryParameterEnvironmentVariableAndAlarm: docs/configuration.md's
// table has a row for every template parameter, and every environment
// variable the template gives a function from a parameter is in the row of
// that parameter (a variable the template fixes is in a row of its own); every
// output is in docs/deploy.md's table, every alarm in docs/operate.md's.
func TestDocsDescribeEveryParameterEnvironmentVariableAndAlarm(t *testing.T) {
	_, configuration := repoFile(t, "docs/configuration.md")
	_, operate := repoFile(t, "docs/operate.md")
	tmpl := repoTemplate(t)
	cell := func(rows map[string]string, name string) []string {
		var found []string
		for key, row := range rows {
			first, _, _ := strings.Cut(key, "\x00")
			if strings.Contains(first, "`"+name+"`") {
				found = append(found, row)
			}
		}
		return found
	}
	params := tableRows(configuration)
	for name := range tmpl.Parameters {
		if len(cell(params, name)) == 0 {
			t.Errorf("parameter %s has no row in docs/configuration.md", name)
		}
	}
	seen := map[string]bool{}
	for id, r := range tmpl.Resources {
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		for env, v := range tmpl.FunctionEnv(id) {
			if seen[env] {
				continue
			}
			seen[env] = true
			ref, _ := Dig(v, "Ref").(string)
			_, fromParameter := tmpl.Parameters[ref]
			switch {
			case fromParameter:
				rows := cell(params, ref)
				if len(rows) == 0 || !slices.ContainsFunc(rows, func(row string) bool { return strings.Contains(row, "`"+env+"`") }) {
					t.Errorf("docs/configuration.md: %s is set from parameter %s; the parameter's row must name it", env, ref)
				}
			case !strings.Contains(configuration, "`"+env+"`"):
				t.Errorf("environment variable %s (set by the template) is not in docs/configuration.md", env)
			}
		}
	}
	if len(seen) < 10 {
		t.Fatalf("found only %d environment variables in the template's functions", len(seen))
	}
	_, deploy := repoFile(t, "docs/deploy.md")
	outputs := tableRows(deploy)
	for name := range tmpl.Outputs {
		if len(cell(outputs, name)) == 0 {
			t.Errorf("output %s is not in docs/deploy.md's table of outputs", name)
		}
	}
	alarms := tableRows(operate)
	for id, r := range tmpl.Resources {
		if r.Type == "AWS::CloudWatch::Alarm" && len(cell(alarms, id)) == 0 {
			t.Errorf("alarm %s is not in docs/operate.md's table of alarms", id)
		}
	}
}

// localStackServices maps template resource types to the LocalStack services
// that play them; a new type fails the test below until it is added here
// and to infra/localstack/docker-compose.yml.
var localStackServices = map[string][]string{
	"AWS::Serverless::Function":            {"lambda", "iam", "logs"},
	"AWS::Serverless::HttpApi":             {"apigateway"},
	"AWS::DynamoDB::Table":                 {"dynamodb"},
	"AWS::SQS::Queue":                      {"sqs"},
	"AWS::KMS::Key":                        {"kms"},
	"AWS::SecretsManager::Secret":          {"secretsmanager"},
	"AWS::Cognito::UserPool":               {"cognito-idp"},
	"AWS::Cognito::UserPoolDomain":         {"cognito-idp"},
	"AWS::Cognito::ManagedLoginBranding":   {"cognito-idp"},
	"AWS::Cognito::UserPoolClient":         {"cognito-idp"},
	"AWS::Cognito::UserPoolResourceServer": {"cognito-idp"},
	"AWS::SNS::Topic":                      {"sns"},
	"AWS::SNS::Subscription":               {"sns"},
	"AWS::CloudWatch::Alarm":               {"cloudwatch"},
	"AWS::CloudWatch::Dashboard":           {"cloudwatch"},
	"AWS::Logs::LogGroup":                  {"logs"},
}

// What a function's event sources, deployment settings and policies add.
var localStackFunctionServices = map[string]string{
	"Schedule": "events", "DynamoDB": "dynamodbstreams", "SQS": "sqs", "HttpApi": "apigateway",
	"DeploymentPreference": "codedeploy", "ses:": "ses",
}

func TestLocalStackCoversTheTemplate(t *testing.T) {
	_, compose := repoFile(t, "infra/localstack/docker-compose.yml")
	_, raw := repoFile(t, "template.yaml")
	tmpl := repoTemplate(t)
	m := regexp.MustCompile(`SERVICES=([a-z0-9,-]+)`).FindStringSubmatch(compose)
	if m == nil {
		t.Fatal("infra/localstack/docker-compose.yml sets no SERVICES")
	}
	have := strings.Split(m[1], ",")
	need := map[string]string{"cloudformation": "the deploy", "s3": "the deploy's artifacts", "sts": "the deploy"}
	for id, r := range tmpl.Resources {
		services, ok := localStackServices[r.Type]
		if !ok {
			t.Errorf("resource %s: type %s has no LocalStack service in localStackServices", id, r.Type)
		}
		for _, s := range services {
			need[s] = r.Type
		}
		if r.Type != "AWS::Serverless::Function" {
			continue
		}
		evts, _ := r.Properties["Events"].(map[string]any)
		for _, e := range evts {
			typ, _ := Dig(e, "Type").(string)
			s, ok := localStackFunctionServices[typ]
			if !ok {
				t.Errorf("function %s: event type %s has no LocalStack service", id, typ)
			}
			need[s] = id + " " + typ
		}
		if r.Properties["DeploymentPreference"] != nil {
			need[localStackFunctionServices["DeploymentPreference"]] = id + " DeploymentPreference"
		}
	}
	if strings.Contains(raw, "ses:SendEmail") {
		need["ses"] = "the public API's mail"
	}
	var missing []string
	for s, why := range need {
		if !slices.Contains(have, s) {
			missing = append(missing, s+" ("+why+")")
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("infra/localstack/docker-compose.yml SERVICES lacks %v", missing)
	}
}

// TestDashboardShowsEveryMetric: every metric of internal/metrics' catalogue
// is on the stack's dashboard.
func TestDashboardShowsEveryMetric(t *testing.T) {
	root, _ := repoFile(t, "go.mod")
	f, err := parser.ParseFile(token.NewFileSet(), filepath.Join(root, "internal/metrics/catalogue.go"), nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST || g.Doc == nil || !strings.HasPrefix(g.Doc.Text(), "The metrics the gate emits") {
			continue
		}
		for _, spec := range g.Specs {
			for _, v := range spec.(*ast.ValueSpec).Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					names = append(names, s)
				}
			}
		}
	}
	if len(names) == 0 {
		t.Fatal("found no metric in internal/metrics/catalogue.go (its const block starts with \"The metrics the gate emits\")")
	}
	body, _ := Dig(repoTemplate(t).Resources["Dashboard"].Properties, "DashboardBody", "Fn::Sub").(string)
	if body == "" {
		t.Fatal("template.yaml has no Dashboard with a !Sub DashboardBody")
	}
	for _, n := range names {
		if !strings.Contains(body, `MetricName=\"`+n+`\"`) {
			t.Errorf("metric %s is not on the dashboard", n)
		}
	}
}

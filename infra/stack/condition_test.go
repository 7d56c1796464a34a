package stack

import "testing"

func TestConditionsUseTheParametersDefaults(t *testing.T) {
	tmpl, err := ParseTemplate([]byte(`
Parameters:
  Url: {Type: String, Default: ""}
  Stage: {Type: String, Default: dev}
Conditions:
  HasUrl: !Not [!Equals [!Ref Url, ""]]
  IsDev: !Equals [!Ref Stage, dev]
  DevWithoutUrl: !And [!Condition IsDev, !Not [!Condition HasUrl]]
  Either: !Or [!Condition HasUrl, !Condition IsDev]
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          URL: !If [HasUrl, !Ref Url, "none"]
          MODE: !If [DevWithoutUrl, "local", "deployed"]
          ANY: !If [Either, "yes", "no"]
`))
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{Template: tmpl, Resources: map[string]Physical{}}
	env, err := s.FunctionEnv("Fn", nil)
	if err != nil {
		t.Fatal(err)
	}
	if env["URL"] != "none" || env["MODE"] != "local" || env["ANY"] != "yes" {
		t.Fatalf("env %v", env)
	}
	tmpl.Parameters["Url"] = "https://x/admin/"
	if env, _ = s.FunctionEnv("Fn", nil); env["URL"] != "https://x/admin/" || env["MODE"] != "deployed" {
		t.Fatalf("with a URL: %v", env)
	}
}

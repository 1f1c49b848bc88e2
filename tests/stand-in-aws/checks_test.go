package main

import (
	"os"
	"strings"
	"testing"
)

// The tests that need the generated data files (schema.json,
// ecs-container-definition.json) read them from STAND_IN_DATA (e.g.
// .tools/stand-in-aws after `make pulumi`) and skip without it:
//
//	STAND_IN_DATA=$PWD/../../.tools/stand-in-aws go test .
func withData(t *testing.T) {
	d := os.Getenv("STAND_IN_DATA")
	if d == "" {
		t.Skip("STAND_IN_DATA not set")
	}
	dataDir = d
}

func TestPolicies(t *testing.T) {
	ok := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["sqs:SendMessage","s3:Get*"],"Resource":["arn:aws:sqs:eu-west-1:123456789012:q","*"]}]}`
	trust := `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":"ecs-tasks.amazonaws.com"},"Action":"sts:AssumeRole"}}`
	bucket := `{"Version":"2012-10-17","Statement":[{"Sid":"Tls","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::b/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	cases := []struct {
		doc  string
		kind policyKind
		want string // "" = valid
	}{
		{ok, identityPolicy, ""},
		{trust, trustPolicy, ""},
		{bucket, resourcePolicy, ""},
		{bucket, identityPolicy, "should not specify a principal"},
		{ok, trustPolicy, "prohibited field Resource"},
		{ok, resourcePolicy, "Missing required field Principal"},
		{`{"Statement":[{"Effect":"Allow","Action":"SendMessage","Resource":"*"}]}`, identityPolicy, "prefaced by a vendor"},
		{`{"Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`, identityPolicy, "Invalid effect"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"bucket"}]}`, identityPolicy, "ARN format"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}`, identityPolicy, "must contain resources"},
		{`{"Version":"2012-10-18","Statement":[]}`, identityPolicy, "Version"},
		{`{"Statement":[{"Effect":"Allow","Action":"s3:Get Object","Resource":"*"}]}`, identityPolicy, "not valid"},
		{`not json`, identityPolicy, "Syntax errors"},
	}
	for _, c := range cases {
		err := validatePolicy(c.doc, c.kind)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", c.doc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestContainerDefinitions(t *testing.T) {
	withData(t)
	cases := []struct{ doc, want string }{
		{`[{"name":"app","image":"nginx","essential":true,"portMappings":[{"containerPort":8080,"protocol":"tcp"}],"environment":[{"name":"A","value":"1"}],"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"g"}}}]`, ""},
		{`[{"name":"app","image":"nginx","environment":[{"name":"A","value":1}]}]`, "Invalid type for parameter containerDefinitions[0].environment[0].value, value: 1, type: number, valid types: string"},
		{`[{"name":"app","image":"nginx","portMappings":[{"containerPort":"8080"}]}]`, "containerDefinitions[0].portMappings[0].containerPort"},
		{`[{"name":"app","image":"nginx","portMappings":[{"containerPort":80,"protocol":"TCP"}]}]`, "valid values: tcp, udp"},
		{`[{"name":"app","image":"nginx","secrets":[{"name":"X"}]}]`, `Missing required parameter in containerDefinitions[0].secrets[0]: "valueFrom"`},
		{`[{"name":"app","image":"nginx","colour":"red"}]`, `Unknown parameter in containerDefinitions[0]: "colour"`},
		{`[{"name":"app"}]`, "Container.image should not be null or empty"},
		{`[{"name":"a","image":"x","essential":false}]`, "essential parameter"},
		{`{"name":"a"}`, "valid types: list"},
	}
	for _, c := range cases {
		err := checkContainerDefinitions(c.doc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: unexpected %v", c.doc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.doc, err, c.want)
		}
	}
}

func TestCheckCoercesLikeTheBridgeAndReportsTypes(t *testing.T) {
	withData(t)
	s, err := loadSchema(dataDir + "/schema.json")
	if err != nil {
		t.Fatal(err)
	}
	spec := s.Resource("aws:lb/targetGroup:TargetGroup")
	c := &checker{s: s}
	in := map[string]any{
		"name": "tg", "port": "8080", "protocol": "HTTP", "vpcId": "vpc-1",
		"healthCheck": map[string]any{"path": "/", "port": 8080.0, "interval": []any{1.0}},
		"bogus":       true,
	}
	out := c.object("", in, spec.InputProperties, spec.RequiredInputs, "aws:lb/targetGroup:TargetGroup")
	if out["port"] != 8080.0 {
		t.Errorf("port not coerced to a number: %#v", out["port"])
	}
	if hc := out["healthCheck"].(map[string]any); hc["port"] != "8080" {
		t.Errorf("healthCheck.port not coerced to a string: %#v", hc["port"])
	}
	got := map[string]bool{}
	for _, f := range c.failures {
		got[f.Property] = true
	}
	if !got["healthCheck.interval"] || !got["bogus"] || len(c.failures) != 2 {
		t.Errorf("failures: %+v", c.failures)
	}
	role := s.Resource("aws:iam/role:Role")
	c = &checker{s: s}
	c.object("", map[string]any{"name": "r"}, role.InputProperties, role.RequiredInputs, "aws:iam/role:Role")
	if len(c.failures) != 1 || c.failures[0].Property != "assumeRolePolicy" {
		t.Errorf("failures: %+v", c.failures)
	}
	if f := checkNames("aws:lb/targetGroup:TargetGroup", spec, map[string]any{"name": strings.Repeat("x", 33)}); len(f) != 1 {
		t.Errorf("a 33-character target group name: %+v", f)
	}
}

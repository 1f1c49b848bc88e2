package main

// IAM policy documents, checked against the policy grammar the way IAM (and
// S3, SQS, SNS for their resource policies) refuse a malformed one at
// create/update time: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
// and the element reference pages next to it; size limits from
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html.
//
// Action names are checked for their form (`vendor:Action`, wildcards
// allowed), not against the list of actions each service defines: IAM
// itself accepts unknown action names.

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

type policyKind int

const (
	identityPolicy policyKind = iota // attached to a role/user/group: no Principal, Resource required
	trustPolicy                      // a role's assumeRolePolicy: Principal required, no Resource
	resourcePolicy                   // bucket/queue/topic policy: Principal and Resource required
)

// policyProps lists, per resource type, the properties holding a policy
// document and their kind; "inlinePolicies[].policy" is an array member.
var policyProps = map[string]map[string]policyKind{
	"aws:iam/role:Role":                            {"assumeRolePolicy": trustPolicy, "inlinePolicies[].policy": identityPolicy},
	"aws:iam/rolePolicy:RolePolicy":                {"policy": identityPolicy},
	"aws:iam/policy:Policy":                        {"policy": identityPolicy},
	"aws:iam/userPolicy:UserPolicy":                {"policy": identityPolicy},
	"aws:iam/groupPolicy:GroupPolicy":              {"policy": identityPolicy},
	"aws:sqs/queuePolicy:QueuePolicy":              {"policy": resourcePolicy},
	"aws:sqs/queue:Queue":                          {"policy": resourcePolicy},
	"aws:sns/topicPolicy:TopicPolicy":              {"policy": resourcePolicy},
	"aws:sns/topic:Topic":                          {"policy": resourcePolicy},
	"aws:s3/bucketPolicy:BucketPolicy":             {"policy": resourcePolicy},
	"aws:ecr/repositoryPolicy:RepositoryPolicy":    {"policy": resourcePolicy},
	"aws:kms/key:Key":                              {"policy": resourcePolicy},
	"aws:secretsmanager/secretPolicy:SecretPolicy": {"policy": resourcePolicy},
}

// Non-whitespace character limits.
func policyLimit(tok string, k policyKind) (int, string) {
	switch {
	case k == trustPolicy:
		return 2048, "ACLSizePerRole"
	case tok == "aws:iam/policy:Policy":
		return 6144, "PolicySize"
	case k == identityPolicy:
		return 10240, "PolicySize"
	case strings.HasPrefix(tok, "aws:s3/"):
		return 20480, "PolicySize"
	}
	return 0, ""
}

// checkPolicies validates every policy document of a resource's inputs.
func checkPolicies(tok string, in map[string]any) error {
	props := policyProps[tok]
	for prop, kind := range props {
		if base, ok := strings.CutSuffix(prop, "[].policy"); ok {
			items, _ := in[base].([]any)
			for i, it := range items {
				m, _ := it.(map[string]any)
				if err := checkPolicyValue(tok, fmt.Sprintf("%s[%d].policy", base, i), m["policy"], kind); err != nil {
					return err
				}
			}
			continue
		}
		if err := checkPolicyValue(tok, prop, in[prop], kind); err != nil {
			return err
		}
	}
	return nil
}

func checkPolicyValue(tok, prop string, v any, kind policyKind) error {
	var doc string
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		if x == "" || containsUnknown(x) {
			return nil
		}
		doc = x
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return nil
		}
		doc = string(raw)
	}
	if limit, quota := policyLimit(tok, kind); limit > 0 {
		n := 0
		for _, r := range doc {
			if !unicode.IsSpace(r) {
				n++
			}
		}
		if n > limit {
			return fmt.Errorf("%s: LimitExceeded: Cannot exceed quota for %s: %d", prop, quota, limit)
		}
	}
	if err := validatePolicy(doc, kind); err != nil {
		return fmt.Errorf("%s: MalformedPolicyDocument: %s", prop, err.Error())
	}
	return nil
}

var (
	reAction      = regexp.MustCompile(`^[a-zA-Z0-9-]+:[a-zA-Z0-9*?]+$`)
	reVendor      = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)
	reSid         = regexp.MustCompile(`^[A-Za-z0-9]*$`)
	stmtKeys      = map[string]bool{"Sid": true, "Effect": true, "Principal": true, "NotPrincipal": true, "Action": true, "NotAction": true, "Resource": true, "NotResource": true, "Condition": true}
	principalKeys = map[string]bool{"AWS": true, "Service": true, "Federated": true, "CanonicalUser": true}
)

type policyErr string

func (e policyErr) Error() string { return string(e) }

func validatePolicy(doc string, kind policyKind) error {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return policyErr("Syntax errors in policy.")
	}
	top, ok := v.(map[string]any)
	if !ok {
		return policyErr("Syntax errors in policy.")
	}
	for k := range top {
		if k != "Version" && k != "Id" && k != "Statement" {
			return policyErr(fmt.Sprintf("Syntax errors in policy. Unknown field %s", k))
		}
	}
	if ver, ok := top["Version"]; ok {
		if s, _ := ver.(string); s != "2012-10-17" && s != "2008-10-17" {
			return policyErr(fmt.Sprintf("The policy failed legacy parsing (Version %v is not 2012-10-17 or 2008-10-17)", ver))
		}
	}
	if id, ok := top["Id"]; ok {
		if _, isStr := id.(string); !isStr {
			return policyErr("Syntax errors in policy. Id must be a string")
		}
	}
	raw, ok := top["Statement"]
	if !ok {
		return policyErr("Syntax errors in policy. Missing required field Statement")
	}
	var stmts []any
	switch s := raw.(type) {
	case []any:
		stmts = s
	case map[string]any:
		stmts = []any{s}
	default:
		return policyErr("Syntax errors in policy. Statement must be an object or an array")
	}
	if len(stmts) == 0 {
		return policyErr("Syntax errors in policy. Statement must not be empty")
	}
	sids := map[string]bool{}
	for i, st := range stmts {
		m, ok := st.(map[string]any)
		if !ok {
			return policyErr(fmt.Sprintf("Syntax errors in policy. Statement %d is not an object", i))
		}
		if err := validateStatement(m, kind); err != nil {
			return policyErr(fmt.Sprintf("%s (Statement %d)", err.Error(), i))
		}
		if sid, _ := m["Sid"].(string); sid != "" {
			if sids[sid] {
				return policyErr(fmt.Sprintf("Statement IDs (SID) in a single policy must be unique (%s).", sid))
			}
			sids[sid] = true
		}
	}
	return nil
}

func validateStatement(m map[string]any, kind policyKind) error {
	for k := range m {
		if !stmtKeys[k] {
			return policyErr(fmt.Sprintf("Syntax errors in policy. Unknown field %s", k))
		}
	}
	if sid, ok := m["Sid"]; ok {
		s, isStr := sid.(string)
		if !isStr || !reSid.MatchString(s) {
			return policyErr(fmt.Sprintf("Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*: %v", sid))
		}
	}
	switch e := m["Effect"].(type) {
	case string:
		if e != "Allow" && e != "Deny" {
			return policyErr(fmt.Sprintf("Invalid effect: %s", e))
		}
	case nil:
		return policyErr("Missing required field Effect")
	default:
		return policyErr("Syntax errors in policy. Effect must be a string")
	}
	_, hasA := m["Action"]
	_, hasNA := m["NotAction"]
	if hasA == hasNA {
		if hasA {
			return policyErr("Statement must not contain both Action and NotAction")
		}
		return policyErr("Policy statement must contain actions.")
	}
	for _, key := range []string{"Action", "NotAction"} {
		if v, ok := m[key]; ok {
			if err := eachString(v, key, func(a string) error {
				if a == "*" {
					return nil
				}
				if !strings.Contains(a, ":") {
					return policyErr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
				}
				vendor := a[:strings.Index(a, ":")]
				if !reVendor.MatchString(vendor) {
					return policyErr(fmt.Sprintf("Vendor %s is not valid", vendor))
				}
				if !reAction.MatchString(a) {
					return policyErr(fmt.Sprintf("Action %q is not valid", a))
				}
				return nil
			}); err != nil {
				return err
			}
		}
	}
	_, hasR := m["Resource"]
	_, hasNR := m["NotResource"]
	if hasR && hasNR {
		return policyErr("Statement must not contain both Resource and NotResource")
	}
	switch kind {
	case trustPolicy:
		if hasR || hasNR {
			return policyErr("Has prohibited field Resource")
		}
	default:
		if !hasR && !hasNR {
			return policyErr("Policy statement must contain resources.")
		}
	}
	for _, key := range []string{"Resource", "NotResource"} {
		if v, ok := m[key]; ok {
			if err := eachString(v, key, func(r string) error {
				if r == "*" || strings.HasPrefix(r, "arn:") {
					if strings.HasPrefix(r, "arn:") && strings.Count(r, ":") < 5 {
						return policyErr(fmt.Sprintf("Resource %s must be in ARN format or \"*\".", r))
					}
					return nil
				}
				return policyErr(fmt.Sprintf("Resource %s must be in ARN format or \"*\".", r))
			}); err != nil {
				return err
			}
		}
	}
	_, hasP := m["Principal"]
	_, hasNP := m["NotPrincipal"]
	if hasP && hasNP {
		return policyErr("Statement must not contain both Principal and NotPrincipal")
	}
	switch kind {
	case identityPolicy:
		if hasP || hasNP {
			return policyErr("Policy document should not specify a principal.")
		}
	default:
		if !hasP && !hasNP {
			return policyErr("Missing required field Principal")
		}
	}
	for _, key := range []string{"Principal", "NotPrincipal"} {
		if v, ok := m[key]; ok {
			if err := validatePrincipal(v); err != nil {
				return err
			}
		}
	}
	if c, ok := m["Condition"]; ok {
		cm, isMap := c.(map[string]any)
		if !isMap {
			return policyErr("Syntax errors in policy. Condition must be an object")
		}
		for op, block := range cm {
			bm, isMap := block.(map[string]any)
			if !isMap || len(bm) == 0 {
				return policyErr(fmt.Sprintf("Syntax errors in policy. Condition operator %s must map condition keys to values", op))
			}
			for key, val := range bm {
				if !strings.Contains(key, ":") {
					return policyErr("Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.")
				}
				if err := eachScalar(val); err != nil {
					return policyErr(fmt.Sprintf("Syntax errors in policy. Condition %s %s: %s", op, key, err.Error()))
				}
			}
		}
	}
	return nil
}

func validatePrincipal(v any) error {
	switch p := v.(type) {
	case string:
		if p != "*" {
			return policyErr(fmt.Sprintf("Invalid principal in policy: %q", p))
		}
		return nil
	case map[string]any:
		if len(p) == 0 {
			return policyErr("Invalid principal in policy: empty principal")
		}
		for k, val := range p {
			if !principalKeys[k] {
				return policyErr(fmt.Sprintf("Invalid principal in policy: unknown principal type %s", k))
			}
			if err := eachString(val, "Principal."+k, func(s string) error {
				if s == "" {
					return policyErr("Invalid principal in policy: empty value")
				}
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	}
	return policyErr("Invalid principal in policy")
}

// eachString accepts a string or a non-empty array of strings.
func eachString(v any, field string, f func(string) error) error {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		if len(x) == 0 {
			return policyErr(fmt.Sprintf("Syntax errors in policy. %s must not be empty", field))
		}
		for _, e := range x {
			s, ok := e.(string)
			if !ok {
				return policyErr(fmt.Sprintf("Syntax errors in policy. %s must hold strings", field))
			}
			if err := f(s); err != nil {
				return err
			}
		}
		return nil
	}
	return policyErr(fmt.Sprintf("Syntax errors in policy. %s must be a string or an array of strings", field))
}

func eachScalar(v any) error {
	switch x := v.(type) {
	case string, bool, json.Number:
		return nil
	case []any:
		for _, e := range x {
			switch e.(type) {
			case string, bool, json.Number:
			default:
				return policyErr("values must be strings, numbers or booleans")
			}
		}
		return nil
	}
	return policyErr("values must be strings, numbers or booleans")
}

package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// replace.json: per resource token, the input properties whose change
// forces a replacement (Terraform AWS provider: "forces new resource").
//
//go:embed replace.json
var replaceJSON []byte

const defaultAccount = "123456789012"

type server struct {
	pulumirpc.UnimplementedResourceProviderServer

	ctx     context.Context
	schema  *Schema
	replace map[string][]string
	faults  *faults

	cancel     chan struct{}
	cancelOnce sync.Once

	mu          sync.Mutex
	region      string
	account     string
	defaultTags map[string]any
}

func newServer(ctx context.Context) (*server, error) {
	s, err := loadSchema(filepath.Join(dataDir, "schema.json"))
	if err != nil {
		return nil, err
	}
	var replace map[string][]string
	if err := json.Unmarshal(replaceJSON, &replace); err != nil {
		return nil, fmt.Errorf("replace.json: %w", err)
	}
	return &server{ctx: ctx, schema: s, replace: replace, faults: loadFaults(), cancel: make(chan struct{})}, nil
}

func tokenOf(typ, urn string) string {
	if typ != "" {
		return typ
	}
	// urn:pulumi:stack::project::[parent$]type::name
	parts := strings.Split(urn, "::")
	if len(parts) >= 3 {
		t := parts[2]
		if i := strings.LastIndex(t, "$"); i >= 0 {
			t = t[i+1:]
		}
		return t
	}
	return ""
}

func urnName(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

func asMap(s *structpb.Struct) map[string]any {
	if s == nil {
		return map[string]any{}
	}
	return s.AsMap()
}

func toStruct(m map[string]any) (*structpb.Struct, error) {
	return structpb.NewStruct(normalize(m).(map[string]any))
}

// normalize turns values decoded from JSON files ([]interface{}, numbers)
// into what structpb accepts.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case json.Number:
		f, _ := x.Float64()
		return f
	case int:
		return float64(x)
	}
	return v
}

func failed(err error) error { return status.Error(codes.Unknown, err.Error()) }

// ---------- plugin ----------

func (p *server) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: providerVersion}, nil
}

func (p *server) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.InvalidArgument, "the stand-in AWS provider has no sub-package %q", req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: string(p.schema.Raw)}, nil
}

func (p *server) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancelOnce.Do(func() { close(p.cancel) })
	return &emptypb.Empty{}, nil
}

// ---------- provider configuration ----------

// configValue decodes a provider input that may arrive JSON-encoded (the
// engine's legacy form of non-string configuration).
func configValue(v any, t *TypeSpec) any {
	if s, ok := v.(string); ok && t != nil && t.Type != "string" && t.Type != "" || (ok && t != nil && t.Ref != "") {
		var decoded any
		if err := json.Unmarshal([]byte(s), &decoded); err == nil {
			return decoded
		}
	}
	return v
}

func (p *server) providerConfig(m map[string]any) map[string]any {
	spec := p.schema.Resource("pulumi:providers:aws")
	out := map[string]any{}
	for k, v := range m {
		if spec != nil {
			if prop, ok := spec.InputProperties[k]; ok {
				out[k] = configValue(v, &prop.TypeSpec)
				continue
			}
		}
		out[k] = v
	}
	return out
}

func (p *server) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news := p.providerConfig(asMap(req.GetNews()))
	spec := p.schema.Resource("pulumi:providers:aws")
	c := &checker{s: p.schema}
	known := map[string]any{}
	for k, v := range news {
		if _, ok := spec.InputProperties[k]; ok {
			known[k] = v
		}
	}
	checked := c.object("", known, spec.InputProperties, nil, "the aws provider")
	for k, v := range checked {
		news[k] = v
	}
	return p.checkResponse(news, c.failures)
}

func (p *server) checkResponse(inputs map[string]any, fails []failure) (*pulumirpc.CheckResponse, error) {
	st, err := toStruct(inputs)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.CheckResponse{Inputs: st}
	for _, f := range fails {
		resp.Failures = append(resp.Failures, &pulumirpc.CheckFailure{Property: f.Property, Reason: f.Reason})
	}
	return resp, nil
}

func (p *server) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds := p.providerConfig(asMap(req.GetOldInputs()))
	if len(olds) == 0 {
		olds = p.providerConfig(asMap(req.GetOlds()))
	}
	news := p.providerConfig(asMap(req.GetNews()))
	var diffs []string
	for _, k := range unionKeys(olds, news) {
		if k == "version" {
			continue
		}
		if !reflect.DeepEqual(olds[k], news[k]) {
			diffs = append(diffs, k)
		}
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE, Diffs: diffs}
	if len(diffs) > 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return resp, nil
}

func (p *server) Configure(_ context.Context, req *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	if _, err := openCloud(); err != nil {
		return nil, failed(err)
	}
	args := p.providerConfig(asMap(req.GetArgs()))
	for k, v := range req.GetVariables() { // aws:config:region = "eu-west-1"
		short := k[strings.LastIndex(k, ":")+1:]
		if _, ok := args[short]; !ok {
			args[short] = p.providerConfig(map[string]any{short: v})[short]
		}
	}
	region := str(args, "region")
	if region == "" {
		region = os.Getenv("AWS_REGION")
	}
	if region == "" {
		region = os.Getenv("AWS_DEFAULT_REGION")
	}
	if region == "" {
		return nil, failed(errors.New("Missing required argument: The argument \"region\" is required, but no definition was found " +
			"(stand-in AWS provider: set the provider's region, or AWS_REGION)"))
	}
	var allowed []string
	if a, ok := args["allowedAccountIds"].([]any); ok {
		for _, e := range a {
			if s, ok := e.(string); ok {
				allowed = append(allowed, s)
			}
		}
	}
	account := os.Getenv("FAKE_AWS_ACCOUNT_ID")
	if account == "" {
		account = defaultAccount
		if len(allowed) > 0 {
			account = allowed[0]
		}
	} else if len(allowed) > 0 && !contains(allowed, account) {
		return nil, failed(fmt.Errorf("AWS account ID not allowed: %s", account))
	}
	tags := map[string]any{}
	if dt, ok := args["defaultTags"].(map[string]any); ok {
		if t, ok := dt["tags"].(map[string]any); ok {
			tags = t
		}
	}
	p.mu.Lock()
	p.region, p.account, p.defaultTags = region, account, tags
	p.mu.Unlock()
	return &pulumirpc.ConfigureResponse{SupportsPreview: true}, nil
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func (p *server) settings() (region, account string, tags map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.region == "" {
		return os.Getenv("AWS_REGION"), defaultAccount, map[string]any{}
	}
	return p.region, p.account, p.defaultTags
}

// ---------- Check / Diff ----------

func (p *server) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	news := asMap(req.GetNews())
	spec := p.schema.Resource(tok)
	if spec == nil {
		return p.checkResponse(news, []failure{{"", fmt.Sprintf("unknown resource type %s (not in pulumi-aws %s's schema)", tok, providerVersion)}})
	}
	c := &checker{s: p.schema}
	inputs := c.object("", news, spec.InputProperties, spec.RequiredInputs, tok)
	c.failures = append(c.failures, checkNames(tok, spec, inputs)...)
	return p.checkResponse(inputs, c.failures)
}

// checkNames: the name rules Terraform validates at plan time.
func checkNames(tok string, spec *ResourceSpec, in map[string]any) []failure {
	k := kindFor(tok, spec)
	var fails []failure
	if k.nameProp != "" {
		if name := str(in, k.nameProp); name != "" {
			if k.maxName > 0 && len(name) > k.maxName {
				fails = append(fails, failure{k.nameProp, fmt.Sprintf("%q cannot be longer than %d characters: %q", k.nameProp, k.maxName, name)})
			}
			if k.nameRe != nil && !k.nameRe.MatchString(name) {
				fails = append(fails, failure{k.nameProp, fmt.Sprintf("%q may only contain %s: %q", k.nameProp, k.nameRule, name)})
			}
		}
	}
	if k.prefixProp != "" && k.maxPrefix > 0 {
		if prefix := str(in, k.prefixProp); len(prefix) > k.maxPrefix {
			fails = append(fails, failure{k.prefixProp, fmt.Sprintf("%q cannot be longer than %d characters: %q", k.prefixProp, k.maxPrefix, prefix)})
		}
	}
	if tok == "aws:sqs/queue:Queue" {
		if name := str(in, "name"); name != "" {
			re, limit := reSQS, 80
			if boolv(in, "fifoQueue") {
				re, limit = reSQSFifo, 75
			}
			if !re.MatchString(name) {
				fails = append(fails, failure{"name", fmt.Sprintf("invalid queue name: %s (1 to %d letters, digits, hyphens or underscores%s)",
					name, limit, map[bool]string{true: ", then .fifo", false: ""}[limit == 75])})
			}
		}
	}
	return fails
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	sort.Strings(keys)
	return keys
}

func (p *server) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	olds := asMap(req.GetOlds())
	oldInputs := asMap(req.GetOldInputs())
	news := asMap(req.GetNews())
	ignore := map[string]bool{}
	for _, k := range req.GetIgnoreChanges() {
		ignore[k] = true
	}
	// "*" lists what forces a replacement of every type (`region`).
	forces := map[string]bool{}
	for _, k := range append(p.replace[tok], p.replace["*"]...) {
		forces[k] = true
	}
	keys := map[string]bool{}
	for k := range news {
		keys[k] = true
	}
	for k := range oldInputs {
		keys[k] = true
	}
	resp := &pulumirpc.DiffResponse{DetailedDiff: map[string]*pulumirpc.PropertyDiff{}, HasDetailedDiff: true}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		if ignore[k] || strings.HasPrefix(k, "__") {
			continue
		}
		nv, inNew := news[k]
		ov, inOld := olds[k]
		if !inOld {
			ov, inOld = oldInputs[k]
		}
		if inNew && nv == nil {
			inNew = false
		}
		if inOld && ov == nil {
			inOld = false
		}
		if inNew && inOld && reflect.DeepEqual(unsecret(nv), unsecret(ov)) {
			continue
		}
		if !inNew && !inOld {
			continue
		}
		if !inNew {
			if _, wasInput := oldInputs[k]; !wasInput {
				continue // a computed output the program never set
			}
		}
		kind := pulumirpc.PropertyDiff_UPDATE
		switch {
		case !inOld:
			kind = pulumirpc.PropertyDiff_ADD
		case !inNew:
			kind = pulumirpc.PropertyDiff_DELETE
		}
		if forces[k] {
			kind += pulumirpc.PropertyDiff_ADD_REPLACE - pulumirpc.PropertyDiff_ADD
			resp.Replaces = append(resp.Replaces, k)
		}
		resp.Diffs = append(resp.Diffs, k)
		resp.DetailedDiff[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
	}
	if len(resp.Diffs) == 0 {
		resp.Changes = pulumirpc.DiffResponse_DIFF_NONE
		return resp, nil
	}
	resp.Changes = pulumirpc.DiffResponse_DIFF_SOME
	// Like the Terraform bridge: a replacement of a resource whose physical
	// name the program sets explicitly deletes the old one first (the name
	// cannot exist twice), unless the name itself changes: then the new
	// resource is created first, Pulumi's default (the bridge's
	// UniqueNameFields rule), and dependents move over before the old one
	// is deleted.
	if len(resp.Replaces) > 0 {
		k := kindFor(tok, p.schema.Resource(tok))
		renamed := k.nameProp != "" && !reflect.DeepEqual(unsecret(news[k.nameProp]), unsecret(olds[k.nameProp]))
		if k.nameProp != "" && str(news, k.nameProp) != "" && (k.uniq != nil || k.exists != nil) && !renamed {
			resp.DeleteBeforeReplace = true
		}
	}
	return resp, nil
}

func unsecret(v any) any {
	switch x := v.(type) {
	case map[string]any:
		if sigOf(x) == secretSig {
			return unsecret(x["value"])
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = unsecret(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unsecret(e)
		}
		return out
	}
	return v
}

// ---------- Create / Read / Update / Delete ----------

func (p *server) newRes(tok, urn string, in map[string]any) *res {
	region, account, _ := p.settings()
	if r := str(in, "region"); r != "" {
		region = r
	}
	mod, typ := splitToken(tok)
	return &res{tok: tok, mod: mod, typ: typ, urn: urn, urnName: urnName(urn), in: in,
		region: region, account: account, spec: p.schema.Resource(tok), created: time.Now()}
}

// physicalName picks the resource's name the way the provider would.
func physicalName(k *kind, r *res) string {
	if k.nameProp == "" {
		return ""
	}
	suffix := ""
	if k.suffix != nil {
		suffix = k.suffix(r)
	}
	if n := str(r.in, k.nameProp); n != "" {
		return n
	}
	if k.prefixProp != "" {
		if prefix := str(r.in, k.prefixProp); prefix != "" {
			n := k.prefixLen
			if n == 0 {
				n = 26
			}
			return prefix + r.digits(n, "prefix") + suffix
		}
	}
	if k.noAutoName {
		return ""
	}
	base := r.urnName
	if r.tok == "aws:s3/bucket:Bucket" {
		base = strings.ToLower(base)
	}
	return base + "-" + r.hex(7, "autoname") + suffix
}

func (p *server) identify(k *kind, r *res) {
	r.name = physicalName(k, r)
	if k.id != nil {
		r.id = k.id(r)
	}
	if r.id == "" && k.arn != nil {
		r.id = k.arn(r)
	}
	if r.id == "" {
		if r.name != "" {
			r.id = r.name
		} else {
			r.id = lowerFirst(r.typ) + "-" + r.hex(20, "id")
		}
	}
}

// outputs builds the resource's outputs: its inputs echoed, what AWS
// computes, and typed placeholders for every other required output.
func (p *server) outputs(k *kind, r *res) map[string]any {
	_, _, defaultTags := p.settings()
	r.out = map[string]any{}
	for key, v := range r.in {
		if _, ok := r.spec.Properties[key]; ok && v != nil {
			r.out[key] = v
		}
	}
	if k.nameProp != "" && r.name != "" {
		if _, ok := r.spec.Properties[k.nameProp]; ok {
			r.out[k.nameProp] = r.name
		}
	}
	if k.prefixProp != "" {
		if _, ok := r.spec.Properties[k.prefixProp]; ok {
			if _, set := r.out[k.prefixProp]; !set {
				r.out[k.prefixProp] = ""
			}
		}
	}
	if _, ok := r.spec.Properties["arn"]; ok {
		switch {
		case k.arn != nil:
			r.out["arn"] = k.arn(r)
		default:
			r.out["arn"] = genericARN(r)
		}
	}
	if _, ok := r.spec.Properties["region"]; ok {
		r.out["region"] = r.region
	}
	if k.fill != nil {
		k.fill(r)
	}
	tagsAll(r, defaultTags)
	for name, prop := range r.spec.Properties {
		if v, ok := r.out[name]; ok {
			r.out[name] = conform(v, &prop.TypeSpec)
			continue
		}
		if contains(r.spec.Required, name) {
			r.out[name] = p.schema.placeholder(&prop.TypeSpec, 0)
		}
	}
	return r.out
}

// conform gives an echoed input its output type where they differ: a
// policy given as an object is a JSON string once stored (`string |
// PolicyDocument` in, `string` out).
func conform(v any, t *TypeSpec) any {
	if t.Type != "string" || len(t.OneOf) > 0 {
		return v
	}
	switch v.(type) {
	case map[string]any, []any:
		if sigOf(v) != "" || containsUnknown(v) {
			return v
		}
		if raw, err := json.Marshal(v); err == nil {
			return string(raw)
		}
	}
	return v
}

// wire marks the schema's secret outputs and converts to a Struct.
func (p *server) wire(spec *ResourceSpec, out map[string]any) (*structpb.Struct, error) {
	m := make(map[string]any, len(out))
	for k, v := range out {
		if prop, ok := spec.Properties[k]; ok && prop.Secret && v != nil && sigOf(v) != secretSig {
			v = secret(v)
		}
		m[k] = v
	}
	return toStruct(m)
}

// awsChecks are the validations AWS itself makes when the call arrives.
func awsChecks(tok string, in map[string]any) error {
	if err := checkPolicies(tok, in); err != nil {
		return err
	}
	if tok == "aws:ecs/taskDefinition:TaskDefinition" {
		if err := checkContainerDefinitions(in["containerDefinitions"]); err != nil {
			return fmt.Errorf("containerDefinitions: %w", err)
		}
	}
	return nil
}

func (p *server) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	in := asMap(req.GetProperties())
	spec := p.schema.Resource(tok)
	if spec == nil {
		return nil, failed(fmt.Errorf("unknown resource type %s", tok))
	}
	k := kindFor(tok, spec)
	r := p.newRes(tok, req.GetUrn(), in)

	if req.GetPreview() {
		// Computed outputs stay unknown until the resource exists.
		out := map[string]any{}
		for key, v := range in {
			out[key] = v
		}
		for name := range spec.Properties {
			if _, ok := out[name]; !ok {
				out[name] = unknownValue
			}
		}
		st, err := p.wire(spec, out)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.CreateResponse{Properties: st}, nil
	}

	cloud, err := openCloud()
	if err != nil {
		return nil, failed(err)
	}
	// Replacements of the same URN get fresh generated names and ids.
	existing, err := cloud.All(tok)
	if err != nil {
		return nil, failed(err)
	}
	for _, e := range existing {
		if e.URN == r.urn && e.Seed >= r.seed {
			r.seed = e.Seed + 1
		}
	}
	p.identify(k, r)
	label := r.name
	if label == "" {
		label = r.id
	}
	logFail := func(err error) error {
		cloud.Log(logEntry{Op: "create-failed", Type: tok, Name: r.name, URN: r.urn, Error: err.Error()})
		return failed(err)
	}
	cloud.Log(logEntry{Op: "create-start", Type: tok, Name: r.name, ID: r.id, URN: r.urn})
	if err := p.faults.apply(ctx, p.cancel, "create", tok, label, k.what); err != nil {
		return nil, logFail(err)
	}
	if err := awsChecks(tok, in); err != nil {
		return nil, logFail(fmt.Errorf("creating %s (%s): %w", k.what, label, err))
	}

	unlock, err := cloud.Lock()
	if err != nil {
		return nil, failed(err)
	}
	defer unlock()
	key := r.id
	if k.uniq != nil {
		key = k.uniq(r)
		if prev, err := cloud.Get(tok, key); err != nil {
			return nil, failed(err)
		} else if prev != nil {
			code, msg := "AlreadyExists", fmt.Sprintf("%s %s already exists", k.what, r.name)
			if k.exists != nil {
				code, msg = k.exists(r)
			}
			return nil, logFail(awsError("creating", k.what, label, code, msg))
		}
	}
	if tok == "aws:ecs/taskDefinition:TaskDefinition" {
		if r.revision, err = cloud.NextCounter("ecs-task-definition/" + r.name); err != nil {
			return nil, failed(err)
		}
		key = fmt.Sprintf("%s:%d", r.name, r.revision)
	}
	out := p.outputs(k, r)
	rec := &Record{Type: tok, URN: r.urn, ID: r.id, Name: r.name, Key: key, Seed: r.seed, Region: r.region,
		Account: r.account, Created: r.created.UTC().Format(time.RFC3339Nano), Inputs: in, Outputs: out}
	if err := cloud.Put(rec); err != nil {
		return nil, failed(err)
	}
	cloud.Log(logEntry{Op: "create", Type: tok, Name: r.name, ID: r.id, URN: r.urn})
	st, err := p.wire(spec, out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: r.id, Properties: st}, nil
}

// find locates a resource's record from its id and last known outputs.
func (p *server) find(cloud *Cloud, tok, id string, outs map[string]any) (*Record, error) {
	spec := p.schema.Resource(tok)
	k := kindFor(tok, spec)
	var key string
	switch {
	case tok == "aws:ecs/taskDefinition:TaskDefinition":
		if rev, ok := num(outs, "revision"); ok {
			key = fmt.Sprintf("%s:%d", str(outs, "family"), int(rev))
		}
	case k.uniq != nil:
		r := p.newRes(tok, "", outs)
		r.name = str(outs, k.nameProp)
		if r.name != "" {
			key = k.uniq(r)
		}
	default:
		key = id
	}
	if key != "" {
		rec, err := cloud.Get(tok, key)
		if err != nil || (rec != nil && rec.ID == id) {
			return rec, err
		}
	}
	all, err := cloud.All(tok)
	if err != nil {
		return nil, err
	}
	arn := str(outs, "arn")
	for _, rec := range all {
		if rec.ID == id && (arn == "" || str(rec.Outputs, "arn") == "" || str(rec.Outputs, "arn") == arn) {
			return rec, nil
		}
	}
	return nil, nil
}

func (p *server) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	spec := p.schema.Resource(tok)
	if spec == nil {
		return nil, failed(fmt.Errorf("unknown resource type %s", tok))
	}
	cloud, err := openCloud()
	if err != nil {
		return nil, failed(err)
	}
	rec, err := p.find(cloud, tok, req.GetId(), asMap(req.GetProperties()))
	if err != nil {
		return nil, failed(err)
	}
	if rec == nil {
		cloud.Log(logEntry{Op: "read", Type: tok, ID: req.GetId(), URN: req.GetUrn(), Error: "not found"})
		return &pulumirpc.ReadResponse{}, nil // gone
	}
	cloud.Log(logEntry{Op: "read", Type: tok, Name: rec.Name, ID: rec.ID, URN: req.GetUrn()})
	props, err := p.wire(spec, rec.Outputs)
	if err != nil {
		return nil, err
	}
	// The inputs follow what the cloud holds, so drift shows as a diff.
	oldInputs := asMap(req.GetInputs())
	if req.GetInputs() == nil {
		oldInputs = rec.Inputs
	}
	inputs := map[string]any{}
	for key, v := range oldInputs {
		if cur, ok := rec.Outputs[key]; ok {
			inputs[key] = cur
		} else {
			inputs[key] = v
		}
	}
	ist, err := toStruct(inputs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: rec.ID, Properties: props, Inputs: ist}, nil
}

func (p *server) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	spec := p.schema.Resource(tok)
	if spec == nil {
		return nil, failed(fmt.Errorf("unknown resource type %s", tok))
	}
	k := kindFor(tok, spec)
	olds := asMap(req.GetOlds())
	news := asMap(req.GetNews())
	if req.GetPreview() {
		out := map[string]any{}
		for key, v := range olds {
			out[key] = v
		}
		for key := range asMap(req.GetOldInputs()) {
			if _, ok := news[key]; !ok {
				delete(out, key)
			}
		}
		for key, v := range news {
			out[key] = v
		}
		r := p.newRes(tok, req.GetUrn(), news)
		r.out = out
		_, _, defaultTags := p.settings()
		tagsAll(r, defaultTags)
		st, err := p.wire(spec, out)
		if err != nil {
			return nil, err
		}
		return &pulumirpc.UpdateResponse{Properties: st}, nil
	}
	cloud, err := openCloud()
	if err != nil {
		return nil, failed(err)
	}
	rec, err := p.find(cloud, tok, req.GetId(), olds)
	if err != nil {
		return nil, failed(err)
	}
	label := str(olds, k.nameProp)
	if label == "" {
		label = req.GetId()
	}
	logFail := func(err error) error {
		cloud.Log(logEntry{Op: "update-failed", Type: tok, Name: label, ID: req.GetId(), URN: req.GetUrn(), Error: err.Error()})
		return failed(err)
	}
	if rec == nil {
		return nil, logFail(awsError("updating", k.what, label, "NotFound", "the resource no longer exists (refresh to forget it)"))
	}
	cloud.Log(logEntry{Op: "update-start", Type: tok, Name: rec.Name, ID: rec.ID, URN: req.GetUrn()})
	if err := p.faults.apply(ctx, p.cancel, "update", tok, label, k.what); err != nil {
		return nil, logFail(err)
	}
	if err := awsChecks(tok, news); err != nil {
		return nil, logFail(fmt.Errorf("updating %s (%s): %w", k.what, label, err))
	}
	unlock, err := cloud.Lock()
	if err != nil {
		return nil, failed(err)
	}
	defer unlock()
	r := p.newRes(tok, rec.URN, news)
	r.seed, r.name, r.id = rec.Seed, rec.Name, rec.ID
	if r.urn == "" {
		r.urn = req.GetUrn()
	}
	if t, err := time.Parse(time.RFC3339Nano, rec.Created); err == nil {
		r.created = t
	}
	if rev, ok := num(rec.Outputs, "revision"); ok {
		r.revision = int(rev)
	}
	out := p.outputs(k, r)
	rec.Inputs, rec.Outputs = news, out
	rec.Updated = time.Now().UTC().Format(time.RFC3339Nano)
	if err := cloud.Put(rec); err != nil {
		return nil, failed(err)
	}
	cloud.Log(logEntry{Op: "update", Type: tok, Name: rec.Name, ID: rec.ID, URN: req.GetUrn()})
	st, err := p.wire(spec, out)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: st}, nil
}

func (p *server) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	tok := tokenOf(req.GetType(), req.GetUrn())
	spec := p.schema.Resource(tok)
	k := kindFor(tok, spec)
	olds := asMap(req.GetProperties())
	cloud, err := openCloud()
	if err != nil {
		return nil, failed(err)
	}
	label := str(olds, k.nameProp)
	if label == "" {
		label = req.GetId()
	}
	logFail := func(err error) error {
		cloud.Log(logEntry{Op: "delete-failed", Type: tok, Name: label, ID: req.GetId(), URN: req.GetUrn(), Error: err.Error()})
		return failed(err)
	}
	cloud.Log(logEntry{Op: "delete-start", Type: tok, Name: label, ID: req.GetId(), URN: req.GetUrn()})
	if err := p.faults.apply(ctx, p.cancel, "delete", tok, label, k.what); err != nil {
		return nil, logFail(err)
	}
	rec, err := p.find(cloud, tok, req.GetId(), olds)
	if err != nil {
		return nil, failed(err)
	}
	if rec == nil {
		// Already gone: the Terraform provider treats NotFound as deleted.
		cloud.Log(logEntry{Op: "delete", Type: tok, Name: label, ID: req.GetId(), URN: req.GetUrn(), Error: "not found"})
		return &emptypb.Empty{}, nil
	}
	if err := deleteChecks(tok, rec); err != nil {
		return nil, logFail(fmt.Errorf("deleting %s (%s): %w", k.what, label, err))
	}
	unlock, err := cloud.Lock()
	if err != nil {
		return nil, failed(err)
	}
	defer unlock()
	if err := cloud.Remove(tok, rec.Key); err != nil {
		return nil, failed(err)
	}
	cloud.Log(logEntry{Op: "delete", Type: tok, Name: rec.Name, ID: rec.ID, URN: req.GetUrn()})
	return &emptypb.Empty{}, nil
}

// deleteChecks: refusals AWS (or the Terraform provider, before calling
// AWS) makes on delete. Deletion protection is enforced only with
// FAKE_AWS_DELETION_PROTECTION=1.
func deleteChecks(tok string, rec *Record) error {
	o := rec.Outputs
	if tok == "aws:rds/instance:Instance" && !boolv(o, "skipFinalSnapshot") && str(o, "finalSnapshotIdentifier") == "" {
		return errors.New("final_snapshot_identifier is required when skip_final_snapshot is false")
	}
	if os.Getenv("FAKE_AWS_DELETION_PROTECTION") == "1" {
		switch {
		case tok == "aws:rds/instance:Instance" && boolv(o, "deletionProtection"):
			return errors.New("InvalidParameterCombination: Cannot delete protected DB Instance, please disable deletion protection and try again.")
		case tok == "aws:dynamodb/table:Table" && boolv(o, "deletionProtectionEnabled"):
			return fmt.Errorf("ValidationException: Resource cannot be deleted as it is currently protected against manual deletion. Disable deletion protection first.")
		case tok == "aws:cloudwatch/logGroup:LogGroup" && boolv(o, "deletionProtectionEnabled"):
			return fmt.Errorf("InvalidOperationException: Log group %s has deletion protection enabled", rec.Name)
		}
	}
	return nil
}

// ---------- functions ----------

func (p *server) Invoke(_ context.Context, req *pulumirpc.InvokeRequest) (*pulumirpc.InvokeResponse, error) {
	args := asMap(req.GetArgs())
	region, account, _ := p.settings()
	if r := str(args, "region"); r != "" {
		region = r
	}
	var ret map[string]any
	switch req.GetTok() {
	case "aws:index/getPartition:getPartition":
		ret = map[string]any{"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws", "reverseDnsPrefix": "com.amazonaws"}
	case "aws:index/getCallerIdentity:getCallerIdentity":
		ret = map[string]any{"accountId": account, "arn": "arn:aws:iam::" + account + ":user/stand-in",
			"id": account, "userId": "AIDASTANDIN" + account}
	case "aws:index/getRegion:getRegion":
		ret = map[string]any{"region": region, "name": region, "id": region,
			"endpoint": "ec2." + region + ".amazonaws.com", "description": region + " (stand-in)"}
	case "aws:ecs/getCluster:getCluster":
		var err error
		if ret, err = p.getCluster(str(args, "clusterName"), region, account); err != nil {
			return nil, failed(err)
		}
	case "aws:lb/getListener:getListener", "aws:alb/getListener:getListener":
		var err error
		if ret, err = p.lookupByArn("aws:lb/listener:Listener", str(args, "arn"),
			"ListenerNotFound: One or more listeners not found"); err != nil {
			return nil, failed(err)
		}
	case "aws:lb/getLoadBalancer:getLoadBalancer", "aws:alb/getLoadBalancer:getLoadBalancer":
		var err error
		if ret, err = p.lookupByArn("aws:lb/loadBalancer:LoadBalancer", str(args, "arn"),
			"LoadBalancerNotFound: One or more load balancers not found"); err != nil {
			return nil, failed(err)
		}
	default:
		return nil, status.Errorf(codes.Unimplemented, "%s is not implemented by the stand-in AWS provider (tests/stand-in-aws)", req.GetTok())
	}
	st, err := toStruct(ret)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.InvokeResponse{Return: st}, nil
}

// lookupByArn reads a resource of type tok with that ARN from the fake
// cloud: the shared resources a platform team owns (a load balancer and its
// listener), which a test seeds, or one a program created.
func (p *server) lookupByArn(tok, arn, notFound string) (map[string]any, error) {
	cloud, err := openCloud()
	if err != nil {
		return nil, err
	}
	all, err := cloud.All(tok)
	if err != nil {
		return nil, err
	}
	for _, rec := range all {
		if str(rec.Outputs, "arn") == arn {
			out := map[string]any{}
			for k, v := range rec.Outputs {
				out[k] = v
			}
			out["id"] = arn
			return out, nil
		}
	}
	return nil, fmt.Errorf("%s: %s (in the stand-in's fake cloud %s)", notFound, arn, cloud.typeDir(tok))
}

func (p *server) getCluster(name, region, account string) (map[string]any, error) {
	cloud, err := openCloud()
	if err != nil {
		return nil, err
	}
	all, err := cloud.All("aws:ecs/cluster:Cluster")
	if err != nil {
		return nil, err
	}
	for _, rec := range all {
		n := str(rec.Outputs, "name")
		if n == "" {
			n = rec.Name
		}
		arn := str(rec.Outputs, "arn")
		if n != name && arn != name {
			continue
		}
		if arn == "" {
			arn = fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", region, account, n)
		}
		tags, _ := rec.Outputs["tags"].(map[string]any)
		if tags == nil {
			tags = map[string]any{}
		}
		settings, _ := rec.Outputs["settings"].([]any)
		if settings == nil {
			settings = []any{}
		}
		return map[string]any{"arn": arn, "clusterName": n, "id": arn, "region": region,
			"pendingTasksCount": 0.0, "registeredContainerInstancesCount": 0.0, "runningTasksCount": 0.0,
			"serviceConnectDefaults": []any{}, "settings": settings, "status": "ACTIVE", "tags": tags}, nil
	}
	return nil, fmt.Errorf("reading ECS Cluster (%s): ClusterNotFoundException: The specified cluster %s was not found in the stand-in's fake cloud (%s)",
		name, name, cloud.typeDir("aws:ecs/cluster:Cluster"))
}

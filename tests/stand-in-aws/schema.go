package main

// The Pulumi package schema the stand-in serves (schema.json, next to the
// executable) and the input checks derived from it.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// TypeSpec is the subset of a Pulumi schema type the checks need.
type TypeSpec struct {
	Type                 string     `json:"type,omitempty"`
	Ref                  string     `json:"$ref,omitempty"`
	Items                *TypeSpec  `json:"items,omitempty"`
	AdditionalProperties *TypeSpec  `json:"additionalProperties,omitempty"`
	OneOf                []TypeSpec `json:"oneOf,omitempty"`
}

type PropSpec struct {
	TypeSpec
	Secret bool `json:"secret,omitempty"`
}

type ObjectSpec struct {
	Properties map[string]PropSpec `json:"properties"`
	Required   []string            `json:"required,omitempty"`
}

type ResourceSpec struct {
	InputProperties map[string]PropSpec `json:"inputProperties"`
	RequiredInputs  []string            `json:"requiredInputs,omitempty"`
	Properties      map[string]PropSpec `json:"properties"`
	Required        []string            `json:"required,omitempty"`
}

// Schema decodes resources and types lazily: the file holds ~1,700
// resources and ~10,000 types, a program touches a handful.
type Schema struct {
	Raw       []byte
	resources map[string]json.RawMessage
	types     map[string]json.RawMessage
	provider  json.RawMessage

	mu       sync.Mutex
	resCache map[string]*ResourceSpec
	typCache map[string]*ObjectSpec
}

// dataDir holds schema.json and ecs-container-definition.json: the
// executable's directory (the plugin's directory once installed).
var dataDir = exeDir()

func exeDir() string {
	exe, err := os.Executable()
	if err != nil {
		return "."
	}
	if p, err := filepath.EvalSymlinks(exe); err == nil {
		exe = p
	}
	return filepath.Dir(exe)
}

func loadSchema(path string) (*Schema, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("the stand-in AWS provider needs its Pulumi schema next to its executable: %w", err)
	}
	s := &Schema{Raw: raw, resCache: map[string]*ResourceSpec{}, typCache: map[string]*ObjectSpec{}}
	// Every provider process loads the schema: index the top-level objects
	// by byte spans (a few ms) instead of decoding 6 MB of JSON (~100 ms);
	// entries are decoded when first used.
	top, ok := indexObject(raw, skipSpace(raw, 0))
	if ok {
		if span, found := top["resources"]; found {
			s.resources, ok = indexObject(span, 0)
		}
		if span, found := top["types"]; found && ok {
			s.types, ok = indexObject(span, 0)
		}
		if span, found := top["provider"]; found {
			s.provider = span
		}
	}
	if !ok || s.resources == nil {
		return nil, fmt.Errorf("%s: not a Pulumi package schema", path)
	}
	return s, nil
}

// indexObject maps the keys of the JSON object starting at raw[i] to the
// spans of their values. Keys are assumed free of escapes (schema tokens).
func indexObject(raw []byte, i int) (map[string]json.RawMessage, bool) {
	if i >= len(raw) || raw[i] != '{' {
		return nil, false
	}
	out := map[string]json.RawMessage{}
	i = skipSpace(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		return out, true
	}
	for i < len(raw) {
		if raw[i] != '"' {
			return nil, false
		}
		end := skipString(raw, i)
		if end < 0 {
			return nil, false
		}
		key := string(raw[i+1 : end-1])
		i = skipSpace(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return nil, false
		}
		i = skipSpace(raw, i+1)
		vend := skipValue(raw, i)
		if vend < 0 {
			return nil, false
		}
		out[key] = raw[i:vend:vend]
		i = skipSpace(raw, vend)
		if i < len(raw) && raw[i] == ',' {
			i = skipSpace(raw, i+1)
			continue
		}
		if i < len(raw) && raw[i] == '}' {
			return out, true
		}
		return nil, false
	}
	return nil, false
}

func skipSpace(raw []byte, i int) int {
	for i < len(raw) && (raw[i] == ' ' || raw[i] == '\n' || raw[i] == '\t' || raw[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at raw[i].
func skipString(raw []byte, i int) int {
	for j := i + 1; j < len(raw); j++ {
		switch raw[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// skipValue returns the index after the JSON value starting at raw[i].
func skipValue(raw []byte, i int) int {
	if i >= len(raw) {
		return -1
	}
	switch raw[i] {
	case '"':
		return skipString(raw, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(raw); j++ {
			switch raw[j] {
			case '"':
				j = skipString(raw, j)
				if j < 0 {
					return -1
				}
				j--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	j := i
	for j < len(raw) && raw[j] != ',' && raw[j] != '}' && raw[j] != ']' && raw[j] != ' ' && raw[j] != '\n' {
		j++
	}
	return j
}

// Resource returns the spec of a resource token (nil when unknown). The
// provider resource itself is "pulumi:providers:aws".
func (s *Schema) Resource(tok string) *ResourceSpec {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.resCache[tok]; ok {
		return r
	}
	raw, ok := s.resources[tok]
	if tok == "pulumi:providers:aws" {
		raw, ok = s.provider, s.provider != nil
	}
	var r *ResourceSpec
	if ok {
		r = &ResourceSpec{}
		if err := json.Unmarshal(raw, r); err != nil {
			r = nil
		}
	}
	s.resCache[tok] = r
	return r
}

func (s *Schema) Type(ref string) *ObjectSpec {
	tok := strings.TrimPrefix(ref, "#/types/")
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.typCache[tok]; ok {
		return t
	}
	var t *ObjectSpec
	if raw, ok := s.types[tok]; ok {
		t = &ObjectSpec{}
		if err := json.Unmarshal(raw, t); err != nil {
			t = nil
		}
	}
	s.typCache[tok] = t
	return t
}

// ---------- values ----------
//
// Property values travel as structpb.Struct; the stand-in works on their
// plain Go form (map[string]any, []any, string, float64, bool, nil).
// Unknowns (previews) are a sentinel string; secrets, assets and archives
// are objects carrying a signature key.

const (
	unknownValue = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
	sigKey       = "4dabf18193072939515e22adb298388d"
	secretSig    = "1b47061264138c4ac30d75fd1eb44270"
	assetSig     = "c44067f5952c0a294b673a41bacd8c17"
	archiveSig   = "0def7320c3a5731c473e5ecbe6d01bc7"
)

func isUnknown(v any) bool { s, ok := v.(string); return ok && s == unknownValue }

func sigOf(v any) string {
	if m, ok := v.(map[string]any); ok {
		if s, ok := m[sigKey].(string); ok {
			return s
		}
	}
	return ""
}

// containsUnknown: v or anything inside it is unknown.
func containsUnknown(v any) bool {
	switch x := v.(type) {
	case string:
		return x == unknownValue
	case []any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if containsUnknown(e) {
				return true
			}
		}
	}
	return false
}

func secret(v any) any { return map[string]any{sigKey: secretSig, "value": v} }

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// ---------- checks ----------

type failure struct{ Property, Reason string }

type checker struct {
	s        *Schema
	failures []failure
}

func (c *checker) fail(path, format string, args ...any) {
	c.failures = append(c.failures, failure{path, fmt.Sprintf(format, args...)})
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object checks a property map against properties/required and returns it
// with scalars coerced the way the Terraform bridge does (a number given to
// a string property becomes its decimal text, "8080" given to a number
// becomes 8080, "true" to a boolean becomes true).
func (c *checker) object(path string, m map[string]any, props map[string]PropSpec, required []string, what string) map[string]any {
	out := make(map[string]any, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if strings.HasPrefix(k, "__") {
			out[k] = v
			continue
		}
		p, ok := props[k]
		if !ok {
			c.fail(join(path, k), "%q is not a property of %s", k, what)
			continue
		}
		out[k] = c.value(join(path, k), v, &p.TypeSpec)
	}
	for _, r := range required {
		if v, ok := m[r]; !ok || v == nil {
			c.fail(join(path, r), "Missing required property '%s'", r)
		}
	}
	return out
}

func (c *checker) value(path string, v any, t *TypeSpec) any {
	if v == nil || isUnknown(v) {
		return v
	}
	switch sigOf(v) {
	case secretSig:
		inner := v.(map[string]any)["value"]
		return secret(c.value(path, inner, t))
	case assetSig, archiveSig:
		if t.Ref == "pulumi.json#/Asset" || t.Ref == "pulumi.json#/Archive" || t.Ref == "pulumi.json#/Any" {
			return v
		}
		c.fail(path, "expected %s, got an asset or archive", describe(t))
		return v
	}
	switch {
	case t.Ref == "pulumi.json#/Any":
		return v
	case t.Ref == "pulumi.json#/Asset" || t.Ref == "pulumi.json#/Archive":
		c.fail(path, "expected an asset or archive, got a %s", kindOf(v))
		return v
	case strings.HasPrefix(t.Ref, "#/types/"):
		obj := c.s.Type(t.Ref)
		m, ok := v.(map[string]any)
		if !ok {
			c.fail(path, "expected an object (%s), got a %s", strings.TrimPrefix(t.Ref, "#/types/"), kindOf(v))
			return v
		}
		if obj == nil {
			return v
		}
		return c.object(path, m, obj.Properties, obj.Required, strings.TrimPrefix(t.Ref, "#/types/"))
	case len(t.OneOf) > 0:
		// An alternative that takes the value as it is wins over one that
		// would coerce it (`string | string[]` given an array).
		for _, exact := range []bool{true, false} {
			for i := range t.OneOf {
				sub := &checker{s: c.s}
				out := sub.value(path, v, &t.OneOf[i])
				if len(sub.failures) == 0 && (!exact || kindOf(out) == kindOf(v)) {
					return out
				}
			}
		}
		c.fail(path, "expected %s, got a %s", describe(t), kindOf(v))
		return v
	}
	switch t.Type {
	case "string":
		switch x := v.(type) {
		case string:
			return x
		case float64:
			return strconv.FormatFloat(x, 'f', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	case "number", "integer":
		switch x := v.(type) {
		case float64:
			if t.Type == "integer" && x != math.Trunc(x) {
				break
			}
			return x
		case string:
			if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
				return f
			}
			c.fail(path, "expected a number, got the string %q", x)
			return v
		}
	case "boolean":
		switch x := v.(type) {
		case bool:
			return x
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return b
			}
			c.fail(path, "expected a boolean, got the string %q", x)
			return v
		}
	case "array":
		if a, ok := v.([]any); ok {
			out := make([]any, len(a))
			for i, e := range a {
				out[i] = c.value(fmt.Sprintf("%s[%d]", path, i), e, t.Items)
			}
			return out
		}
	case "object":
		if m, ok := v.(map[string]any); ok {
			if t.AdditionalProperties == nil {
				return m
			}
			out := make(map[string]any, len(m))
			for k, e := range m {
				out[k] = c.value(fmt.Sprintf("%s[%q]", path, k), e, t.AdditionalProperties)
			}
			return out
		}
	default:
		return v
	}
	c.fail(path, "expected %s, got a %s", describe(t), kindOf(v))
	return v
}

func describe(t *TypeSpec) string {
	switch {
	case t.Ref != "":
		return "an object (" + strings.TrimPrefix(t.Ref, "#/types/") + ")"
	case len(t.OneOf) > 0:
		parts := make([]string, len(t.OneOf))
		for i := range t.OneOf {
			parts[i] = describe(&t.OneOf[i])
		}
		return strings.Join(parts, " or ")
	case t.Type == "array":
		return "an array"
	case t.Type == "object":
		return "an object"
	case t.Type == "integer":
		return "an integer"
	}
	return "a " + t.Type
}

// placeholder is a value of the type that stands for an output AWS would
// compute and the stand-in does not model.
func (s *Schema) placeholder(t *TypeSpec, depth int) any {
	switch {
	case strings.HasPrefix(t.Ref, "#/types/"):
		obj := s.Type(t.Ref)
		out := map[string]any{}
		if obj != nil && depth < 3 {
			for _, r := range obj.Required {
				p := obj.Properties[r]
				out[r] = s.placeholder(&p.TypeSpec, depth+1)
			}
		}
		return out
	case len(t.OneOf) > 0:
		return s.placeholder(&t.OneOf[0], depth)
	}
	switch t.Type {
	case "string":
		return ""
	case "number", "integer":
		return 0.0
	case "boolean":
		return false
	case "array":
		return []any{}
	case "object":
		return map[string]any{}
	}
	return nil
}

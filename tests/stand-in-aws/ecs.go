package main

// ECS container definitions (the JSON string of a task definition's
// `containerDefinitions`), checked against the ECS API's ContainerDefinition
// shape as botocore's service model publishes it (ecs-container-definition.json,
// extracted at build time by extract-ecs-shape.py), with botocore's
// parameter-validation rules and messages, plus the few checks
// RegisterTaskDefinition itself makes (name and image present, unique
// names, one essential container).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

type shape struct {
	Type     string            `json:"type"`
	Members  map[string]string `json:"members,omitempty"`
	Required []string          `json:"required,omitempty"`
	Member   string            `json:"member,omitempty"`
	Key      string            `json:"key,omitempty"`
	Value    string            `json:"value,omitempty"`
	Enum     []string          `json:"enum,omitempty"`
	Min      *float64          `json:"min,omitempty"`
	Max      *float64          `json:"max,omitempty"`
}

type shapeFile struct {
	Source string           `json:"source"`
	Root   string           `json:"root"`
	Shapes map[string]shape `json:"shapes"`
}

var (
	ecsOnce   sync.Once
	ecsShapes *shapeFile
	ecsErr    error
)

func loadECSShapes() (*shapeFile, error) {
	ecsOnce.Do(func() {
		p := filepath.Join(dataDir, "ecs-container-definition.json")
		raw, err := os.ReadFile(p)
		if err != nil {
			ecsErr = fmt.Errorf("the stand-in AWS provider needs %s (built by tests/stand-in-aws/extract-ecs-shape.py): %w", p, err)
			return
		}
		var f shapeFile
		if err := json.Unmarshal(raw, &f); err != nil {
			ecsErr = fmt.Errorf("%s: %w", p, err)
			return
		}
		ecsShapes = &f
	})
	return ecsShapes, ecsErr
}

// checkContainerDefinitions returns the error RegisterTaskDefinition would.
func checkContainerDefinitions(v any) error {
	doc, ok := v.(string)
	if !ok || containsUnknown(v) {
		return nil
	}
	shapes, err := loadECSShapes()
	if err != nil {
		return err
	}
	var defs any
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	if err := dec.Decode(&defs); err != nil {
		return fmt.Errorf("ClientException: containerDefinitions is not valid JSON: %v", err)
	}
	list, ok := defs.([]any)
	if !ok {
		return fmt.Errorf("ClientException: Invalid type for parameter containerDefinitions, value: %s, type: %s, valid types: list", short60(doc), jsonKind(defs))
	}
	if len(list) == 0 {
		return fmt.Errorf("ClientException: Container list cannot be empty.")
	}
	var problems []string
	for i, d := range list {
		shapes.validate(fmt.Sprintf("containerDefinitions[%d]", i), d, shapes.Root, &problems)
	}
	if len(problems) > 0 {
		return fmt.Errorf("ClientException: %s", strings.Join(problems, "\n"))
	}
	names := map[string]bool{}
	essential := false
	for _, d := range list {
		m := d.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			return fmt.Errorf("ClientException: Container.name should not be null or empty.")
		}
		if img, _ := m["image"].(string); img == "" {
			return fmt.Errorf("ClientException: Container.image should not be null or empty.")
		}
		if names[name] {
			return fmt.Errorf("ClientException: Duplicate container name found: %s", name)
		}
		names[name] = true
		if e, ok := m["essential"].(bool); !ok || e {
			essential = true
		}
	}
	if !essential {
		return fmt.Errorf("ClientException: No Container Definitions have the essential parameter set to true.")
	}
	return nil
}

func short60(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "structure"
	}
	return fmt.Sprintf("%T", v)
}

func render(v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(raw)
}

// validate follows botocore's ParamValidator: types, required members,
// unknown members, enum values and numeric/length ranges.
func (f *shapeFile) validate(path string, v any, name string, problems *[]string) {
	if v == nil {
		return
	}
	s, ok := f.Shapes[name]
	if !ok {
		return
	}
	bad := func(valid string) {
		*problems = append(*problems, fmt.Sprintf("Invalid type for parameter %s, value: %s, type: %s, valid types: %s",
			path, render(v), jsonKind(v), valid))
	}
	switch s.Type {
	case "structure":
		m, ok := v.(map[string]any)
		if !ok {
			bad("structure")
			return
		}
		for _, r := range s.Required {
			if m[r] == nil {
				*problems = append(*problems, fmt.Sprintf("Missing required parameter in %s: %q", path, r))
			}
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			member, ok := s.Members[k]
			if !ok {
				valid := make([]string, 0, len(s.Members))
				for mk := range s.Members {
					valid = append(valid, mk)
				}
				sort.Strings(valid)
				*problems = append(*problems, fmt.Sprintf("Unknown parameter in %s: %q, must be one of: %s", path, k, strings.Join(valid, ", ")))
				continue
			}
			f.validate(path+"."+k, m[k], member, problems)
		}
	case "list":
		l, ok := v.([]any)
		if !ok {
			bad("list, tuple")
			return
		}
		if s.Min != nil && float64(len(l)) < *s.Min {
			*problems = append(*problems, fmt.Sprintf("Invalid length for parameter %s, value: %d, valid min length: %v", path, len(l), *s.Min))
		}
		for i, e := range l {
			f.validate(fmt.Sprintf("%s[%d]", path, i), e, s.Member, problems)
		}
	case "map":
		m, ok := v.(map[string]any)
		if !ok {
			bad("dict")
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f.validate(fmt.Sprintf("%s.%s", path, k), m[k], s.Value, problems)
		}
	case "string":
		str, ok := v.(string)
		if !ok {
			bad("string")
			return
		}
		if len(s.Enum) > 0 {
			found := false
			for _, e := range s.Enum {
				if e == str {
					found = true
				}
			}
			if !found {
				*problems = append(*problems, fmt.Sprintf("Invalid value for parameter %s, value: %s, valid values: %s", path, str, strings.Join(s.Enum, ", ")))
			}
		}
		if s.Min != nil && float64(len(str)) < *s.Min {
			*problems = append(*problems, fmt.Sprintf("Invalid length for parameter %s, value: %d, valid min length: %v", path, len(str), *s.Min))
		}
	case "integer", "long":
		n, ok := v.(json.Number)
		if !ok {
			bad("integer")
			return
		}
		i, err := n.Int64()
		if err != nil {
			bad("integer")
			return
		}
		if s.Min != nil && float64(i) < *s.Min {
			*problems = append(*problems, fmt.Sprintf("Invalid value for parameter %s, value: %d, valid min value: %v", path, i, *s.Min))
		}
	case "double", "float":
		if _, ok := v.(json.Number); !ok {
			bad("float, decimal.Decimal, integer")
		}
	case "boolean":
		if _, ok := v.(bool); !ok {
			bad("boolean")
		}
	case "timestamp", "blob":
		if _, ok := v.(string); !ok {
			bad("string")
		}
	}
}

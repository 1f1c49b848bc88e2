package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// The index of the schema matches a full decode.
func TestIndexMatchesDecoder(t *testing.T) {
	withData(t)
	path := dataDir + "/schema.json"
	t0 := time.Now()
	s, err := loadSchema(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("indexed in %v", time.Since(t0))
	var top struct {
		Resources map[string]json.RawMessage `json:"resources"`
		Types     map[string]json.RawMessage `json:"types"`
		Provider  json.RawMessage            `json:"provider"`
	}
	if err := json.Unmarshal(s.Raw, &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Resources) != len(s.resources) || len(top.Types) != len(s.types) {
		t.Fatalf("resources %d/%d types %d/%d", len(top.Resources), len(s.resources), len(top.Types), len(s.types))
	}
	for k, v := range top.Resources {
		if !reflect.DeepEqual([]byte(v), []byte(s.resources[k])) {
			t.Fatalf("resource %s differs", k)
		}
	}
	for k, v := range top.Types {
		if !reflect.DeepEqual([]byte(v), []byte(s.types[k])) {
			t.Fatalf("type %s differs", k)
		}
	}
	if !reflect.DeepEqual([]byte(top.Provider), []byte(s.provider)) {
		t.Fatal("provider differs")
	}
}

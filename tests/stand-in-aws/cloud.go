package main

// The fake cloud: one JSON file per resource under $FAKE_AWS_DIR, an
// operations log, and the fault injection of FAKE_AWS_FAIL / _DELAY / _HANG.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Record is what a resource's file holds. Tests may edit `outputs` to make
// a resource drift; `read` returns what the file holds.
type Record struct {
	Type    string         `json:"type"`
	URN     string         `json:"urn"`
	ID      string         `json:"id"`
	Name    string         `json:"name,omitempty"` // physical name, when the resource has one
	Key     string         `json:"key"`            // file name (unescaped)
	Seed    int            `json:"seed"`           // disambiguates generated names of replacements
	Region  string         `json:"region"`
	Account string         `json:"account"`
	Created string         `json:"created"`
	Updated string         `json:"updated,omitempty"`
	Inputs  map[string]any `json:"inputs"`
	Outputs map[string]any `json:"outputs"`
}

type Cloud struct{ dir string }

var errNoCloud = errors.New("FAKE_AWS_DIR is not set: the stand-in AWS provider (a test fixture, " +
	"tests/stand-in-aws) keeps its fake cloud in that directory; set it to a writable directory")

func openCloud() (*Cloud, error) {
	dir := os.Getenv("FAKE_AWS_DIR")
	if dir == "" {
		return nil, errNoCloud
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("FAKE_AWS_DIR: %w", err)
	}
	return &Cloud{dir: dir}, nil
}

// typeDir: aws:sqs/queue:Queue -> <dir>/sqs/Queue.
func (c *Cloud) typeDir(tok string) string {
	mod, name := splitToken(tok)
	return filepath.Join(c.dir, mod, name)
}

func splitToken(tok string) (mod, name string) {
	parts := strings.Split(tok, ":")
	if len(parts) != 3 {
		return "misc", strings.ReplaceAll(tok, ":", "_")
	}
	mod = parts[1]
	if i := strings.Index(mod, "/"); i >= 0 {
		mod = mod[:i]
	}
	return mod, parts[2]
}

func (c *Cloud) path(tok, key string) string {
	return filepath.Join(c.typeDir(tok), url.PathEscape(key)+".json")
}

func (c *Cloud) Get(tok, key string) (*Record, error) {
	raw, err := os.ReadFile(c.path(tok, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("fake cloud file %s: %w", c.path(tok, key), err)
	}
	if r.Inputs == nil {
		r.Inputs = map[string]any{}
	}
	if r.Outputs == nil {
		r.Outputs = map[string]any{}
	}
	if r.Key == "" {
		r.Key = key
	}
	return &r, nil
}

// All returns every record of a type (for lookups by other attributes).
func (c *Cloud) All(tok string) ([]*Record, error) {
	entries, err := os.ReadDir(c.typeDir(tok))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Record
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		key, err := url.PathUnescape(strings.TrimSuffix(e.Name(), ".json"))
		if err != nil {
			continue
		}
		r, err := c.Get(tok, key)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, r)
		}
	}
	return out, nil
}

func (c *Cloud) Put(r *Record) error {
	p := c.path(r.Type, r.Key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.tmp-%d", p, os.Getpid())
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

func (c *Cloud) Remove(tok, key string) error {
	err := os.Remove(c.path(tok, key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Lock serialises mutations across every provider process sharing the
// directory (parallel Pulumi runs).
func (c *Cloud) Lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.dir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// NextCounter returns 1, 2, … for a named counter kept in the directory
// (task definition revisions never reuse a number). Call under Lock.
func (c *Cloud) NextCounter(name string) (int, error) {
	p := filepath.Join(c.dir, ".counters", url.PathEscape(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return 0, err
	}
	n := 0
	if raw, err := os.ReadFile(p); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(raw)))
	}
	n++
	return n, os.WriteFile(p, []byte(strconv.Itoa(n)+"\n"), 0o644)
}

type logEntry struct {
	Time  string `json:"time"`
	Op    string `json:"op"`
	Type  string `json:"type"`
	Name  string `json:"name,omitempty"`
	ID    string `json:"id,omitempty"`
	URN   string `json:"urn,omitempty"`
	PID   int    `json:"pid"`
	Error string `json:"error,omitempty"`
}

// Log appends one JSON line to $FAKE_AWS_DIR/operations.log. Ops: create,
// update, delete (done), read; "<op>-start" when a create, update or delete
// begins (before any injected delay), "<op>-failed" when it is refused or
// fails.
func (c *Cloud) Log(e logEntry) {
	e.Time = time.Now().UTC().Format(time.RFC3339Nano)
	e.PID = os.Getpid()
	raw, err := json.Marshal(e)
	if err != nil {
		return
	}
	f, err := os.OpenFile(filepath.Join(c.dir, "operations.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	_, _ = f.Write(append(raw, '\n'))
}

// ---------- fault injection ----------

type faults struct {
	fail    *regexp.Regexp
	failMsg string
	delay   *regexp.Regexp
	delayBy time.Duration
	hang    *regexp.Regexp
	err     error
}

func loadFaults() *faults {
	f := &faults{failMsg: os.Getenv("FAKE_AWS_FAIL_MESSAGE")}
	compile := func(name, expr string) *regexp.Regexp {
		if expr == "" {
			return nil
		}
		re, err := regexp.Compile(expr)
		if err != nil && f.err == nil {
			f.err = fmt.Errorf("%s: invalid regular expression %q: %v", name, expr, err)
		}
		return re
	}
	f.fail = compile("FAKE_AWS_FAIL", os.Getenv("FAKE_AWS_FAIL"))
	f.hang = compile("FAKE_AWS_HANG", os.Getenv("FAKE_AWS_HANG"))
	if d := os.Getenv("FAKE_AWS_DELAY"); d != "" {
		i := strings.LastIndex(d, "=")
		if i < 0 {
			f.err = fmt.Errorf("FAKE_AWS_DELAY=%q: expected <regex>=<seconds>", d)
		} else if secs, err := strconv.ParseFloat(d[i+1:], 64); err != nil || secs < 0 {
			f.err = fmt.Errorf("FAKE_AWS_DELAY=%q: %q is not a number of seconds", d, d[i+1:])
		} else {
			f.delay = compile("FAKE_AWS_DELAY", d[:i])
			f.delayBy = time.Duration(secs * float64(time.Second))
		}
	}
	return f
}

// apply runs the faults that match "<op> <type token> <name or id>":
// delay, then hang (until ctx or cancel ends), then fail.
func (f *faults) apply(ctx context.Context, cancel <-chan struct{}, op, tok, name, what string) error {
	if f.err != nil {
		return f.err
	}
	subject := op + " " + tok + " " + name
	if f.delay != nil && f.delay.MatchString(subject) {
		select {
		case <-time.After(f.delayBy):
		case <-ctx.Done():
			return ctx.Err()
		case <-cancel:
			return errors.New("operation cancelled")
		}
	}
	if f.hang != nil && f.hang.MatchString(subject) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s %s (%s): interrupted while hanging (FAKE_AWS_HANG)", opVerb(op), what, name)
		case <-cancel:
			return fmt.Errorf("%s %s (%s): cancelled while hanging (FAKE_AWS_HANG)", opVerb(op), what, name)
		}
	}
	if f.fail != nil && f.fail.MatchString(subject) {
		if f.failMsg != "" {
			return errors.New(f.failMsg)
		}
		return fmt.Errorf("%s %s (%s): operation error: https response error StatusCode: 500, RequestID: %s, "+
			"InternalFailure: the stand-in AWS provider failed this %s as FAKE_AWS_FAIL asked",
			opVerb(op), what, name, requestID(subject), op)
	}
	return nil
}

func opVerb(op string) string {
	switch op {
	case "create":
		return "creating"
	case "update":
		return "updating"
	case "delete":
		return "deleting"
	}
	return op
}

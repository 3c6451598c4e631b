package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDatasetGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	args := []string{"generate", "--dir", dir, "--people", "20", "--properties", "10", "--businesses", "5", "--products", "3", "--seed", "9"}
	var out, errOut bytes.Buffer
	if err := datasetCommand(t.Context(), args, &out, &errOut); err != nil {
		t.Fatalf("dataset generate: %v\n%s", err, errOut.String())
	}
	for name, lines := range map[string]int{"people": 20, "properties": 10, "businesses": 5, "products": 3} {
		data, err := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.Count(data, []byte("\n")); got != lines {
			t.Errorf("%s: %d lines, want %d", name, got, lines)
		}
	}
	if !strings.Contains(out.String(), "wrote 38 records") {
		t.Errorf("output:\n%s", out.String())
	}

	// Run (the way main calls it) with the same flags writes the same bytes.
	again := filepath.Join(t.TempDir(), "ds")
	args[2] = again
	if err := run(t.Context(), append([]string{"dataset"}, args...)); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"people", "properties", "businesses", "products"} {
		a, _ := os.ReadFile(filepath.Join(dir, name+".jsonl"))
		b, _ := os.ReadFile(filepath.Join(again, name+".jsonl"))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs between two runs with the same flags", name)
		}
	}
}

func TestDatasetErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		msg  string
	}{
		{nil, "missing subcommand"},
		{[]string{"make"}, `unknown subcommand "make"`},
		{[]string{"generate"}, "--dir is required"},
		{[]string{"generate", "--dir", t.TempDir(), "--people", "x"}, "invalid value"},
		{[]string{"generate", "--dir", t.TempDir(), "--people", "-1"}, "negative count"},
		{[]string{"generate", "--dir", t.TempDir(), "extra"}, `unexpected argument "extra"`},
		{[]string{"generate", "--nope"}, "flag provided but not defined"},
	} {
		var out, errOut bytes.Buffer
		err := datasetCommand(t.Context(), tt.args, &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("dataset %q: %v, want an error containing %q", tt.args, err, tt.msg)
		}
	}
}

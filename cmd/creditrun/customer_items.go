package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxItemsFile bounds the items file read into memory: 10,000 items of a
// few KB each.
const maxItemsFile = 64 << 20

// readItems reads the items of an enrichment from a file: JSONL (one
// object a line) when its name ends in .jsonl, .ndjson or .json or its
// first character is '{', CSV with a header row of field names otherwise.
// Empty CSV cells leave their field out.
func readItems(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("--items: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxItemsFile+1))
	if err != nil {
		return nil, fmt.Errorf("--items %s: %w", path, err)
	}
	if len(data) > maxItemsFile {
		return nil, fmt.Errorf("--items %s: larger than %d MB", path, maxItemsFile>>20)
	}
	ext := strings.ToLower(filepath.Ext(path))
	trimmed := bytes.TrimSpace(data)
	var items []map[string]any
	if ext == ".jsonl" || ext == ".ndjson" || ext == ".json" || (ext != ".csv" && len(trimmed) > 0 && trimmed[0] == '{') {
		items, err = jsonlItems(data)
	} else {
		items, err = csvItems(data)
	}
	if err != nil {
		return nil, fmt.Errorf("--items %s: %w", path, err)
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("--items %s: no items", path)
	}
	return items, nil
}

// jsonlItems reads one JSON object a line; blank lines are skipped.
func jsonlItems(data []byte) ([]map[string]any, error) {
	var items []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxItemsFile)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		var item map[string]any
		if err := dec.Decode(&item); err != nil || item == nil {
			return nil, fmt.Errorf("line %d is not a JSON object: %w", n, orNotObject(err))
		}
		items = append(items, item)
	}
	return items, sc.Err()
}

func orNotObject(err error) error {
	if err == nil {
		return errors.New("null")
	}
	return err
}

// csvItems reads a CSV file whose first row names the fields.
func csvItems(data []byte) ([]map[string]any, error) {
	r := csv.NewReader(bytes.NewReader(data))
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the header row: %w", err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if header[i] == "" {
			return nil, fmt.Errorf("the header row names no field in column %d", i+1)
		}
	}
	var items []map[string]any
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			return items, nil
		}
		if err != nil {
			return nil, err
		}
		item := make(map[string]any, len(row))
		for i, v := range row {
			if v != "" {
				item[header[i]] = v
			}
		}
		items = append(items, item)
	}
}

package jsonscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type leaf struct {
	Path string
	Kind Kind
	Text string
}

func walkLeaves(doc []byte) ([]leaf, error) {
	var out []leaf
	err := Walk(doc, func(path []byte, kind Kind, text []byte, escaped, _ bool) {
		t := string(text)
		if escaped {
			t = string(AppendUnquote(nil, text))
		}
		// encoding/json turns each byte of invalid UTF-8 into U+FFFD; Walk
		// hands the bytes over as they are.
		out = append(out, leaf{string([]rune(string(path))), kind, string([]rune(t))})
	})
	return out, err
}

func TestWalk(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []leaf
	}{
		{"flat", `{"id":"p1","n":12.5,"t":true,"f":false,"z":null}`, []leaf{
			{"id", String, "p1"}, {"n", Number, "12.5"}, {"t", True, "true"}, {"f", False, "false"}, {"z", Null, "null"},
		}},
		{"nested arrays of objects", `{"brokers":[{"agent":"A","phones":["1","2"]},{"agent":"B"}],"e":[],"o":{}}`, []leaf{
			{"brokers.agent", String, "A"}, {"brokers.phones", String, "1"}, {"brokers.phones", String, "2"}, {"brokers.agent", String, "B"},
		}},
		{"escapes", ` { "a\u0062" : "x\"y\\z\u00e9" } `, []leaf{{"ab", String, "x\"y\\zé"}}},
		{"arrays of arrays", `{"m":[[1,[2]],3]}`, []leaf{{"m", Number, "1"}, {"m", Number, "2"}, {"m", Number, "3"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := walkLeaves([]byte(tt.doc))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("leaves (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWalkErrors(t *testing.T) {
	tests := []struct {
		doc    string
		offset int
		msg    string
	}{
		{``, 0, "empty document"},
		{`[1]`, 0, "not an object"},
		{`"x"`, 0, "not an object"},
		{`{"a":1`, 6, "unexpected end of JSON after object key:value pair"},
		{`{"a":tru}`, 8, "invalid character '}' in literal true"},
		{`{"a":01}`, 6, "invalid character '1' after object key:value pair"},
		{`{"a":"x` + "\n" + `"}`, 7, "invalid character 0x0a in string literal"},
		{`{"a":1} x`, 8, "invalid character 'x' after top-level value"},
		{`{a:1}`, 1, "invalid character 'a' looking for beginning of object key string"},
		{`{"a":"\q"}`, 7, "invalid character 'q' in string escape code"},
		{strings.Repeat(`{"a":`, 10001) + "1" + strings.Repeat("}", 10001), 50000, "exceeded max depth"},
	}
	for _, tt := range tests {
		_, err := walkLeaves([]byte(tt.doc))
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Walk(%.40q) = %v, want a *SyntaxError", tt.doc, err)
			continue
		}
		if se.Offset != tt.offset || se.Msg != tt.msg {
			t.Errorf("Walk(%.40q) = offset %d %q, want offset %d %q", tt.doc, se.Offset, se.Msg, tt.offset, tt.msg)
		}
	}
}

// referenceLeaves lists the leaves of doc with encoding/json's tokenizer.
func referenceLeaves(doc []byte) ([]leaf, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var out []leaf
	type frame struct {
		obj      bool
		base     int
		wantsKey bool
	}
	var stack []frame
	var path []byte
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '{':
				stack = append(stack, frame{obj: true, base: len(path), wantsKey: true})
			case '[':
				stack = append(stack, frame{base: len(path)})
			default:
				path = path[:stack[len(stack)-1].base]
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].obj {
					path = path[:stack[len(stack)-1].base]
					stack[len(stack)-1].wantsKey = true
				}
			}
			continue
		}
		top := &stack[len(stack)-1]
		if top.obj && top.wantsKey {
			if top.base > 0 {
				path = append(path, '.')
			}
			path = append(path, tok.(string)...)
			top.wantsKey = false
			continue
		}
		var l leaf
		switch v := tok.(type) {
		case string:
			l = leaf{string(path), String, v}
		case json.Number:
			l = leaf{string(path), Number, string(v)}
		case bool:
			if v {
				l = leaf{string(path), True, "true"}
			} else {
				l = leaf{string(path), False, "false"}
			}
		case nil:
			l = leaf{string(path), Null, "null"}
		}
		out = append(out, l)
		if top.obj {
			path = path[:top.base]
			top.wantsKey = true
		}
	}
}

// FuzzWalk holds Walk to encoding/json: the same documents are valid, and the
// leaves are the same.
func FuzzWalk(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"id":"p1","a":[1,{"b":null}],"c":{"d":-0.5e+3}}`, `{"a":"\ud83d\ude00\u0041\/"}`,
		`{"a":"\ud800"}`, `{"a" : [ ] , "b" : { } }`, "{\"a\":\"\xff\"}", `[1]`, `{"a":1}x`, `{"a":1e}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		got, err := walkLeaves(doc)
		trimmed := bytes.TrimLeft(doc, " \t\r\n")
		wantValid := json.Valid(doc) && len(trimmed) > 0 && trimmed[0] == '{'
		if (err == nil) != wantValid {
			t.Fatalf("Walk(%q) error %v, but encoding/json valid object: %v", doc, err, wantValid)
		}
		if err != nil {
			return
		}
		want, err := referenceLeaves(doc)
		if err != nil {
			t.Fatalf("reference decoder failed on a valid document %q: %v", doc, err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Fatalf("Walk(%q) leaves (-encoding/json +Walk):\n%s", doc, diff)
		}
	})
}

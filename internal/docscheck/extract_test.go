package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestExtract(t *testing.T) {
	md := "# T\n\n```sh\nnot marked\n```\n\n<!-- check -->\n```sh\na\nb\n```\ntext\n<!-- check -->\n\n```bash\nc\n```\n"
	got, err := extract("x.md", strings.NewReader(md))
	if err != nil {
		t.Fatal(err)
	}
	want := []block{{file: "x.md", line: 9, text: "a\nb\n"}, {file: "x.md", line: 16, text: "c\n"}}
	if !cmp.Equal(got, want, cmp.AllowUnexported(block{})) {
		t.Error(cmp.Diff(want, got, cmp.AllowUnexported(block{})))
	}
	for _, bad := range []string{"<!-- check -->\nprose\n", "<!-- check -->\n```sh\nopen\n"} {
		if _, err := extract("x.md", strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

package text

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokens(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want []string
	}{
		{"4801 Yucca Hl Dr", []string{"4801", "yucca", "hl", "dr"}},
		{"john.smith42@Example.COM", []string{"john", "smith42", "example", "com"}},
		{"(512) 555-0199", []string{"512", "555", "0199"}},
		{"Montréal, QC", []string{"montréal", "qc"}},
		{"ÁLVAREZ O'Brien", []string{"álvarez", "o", "brien"}},
		{"--- ", nil},
		{"a\xffb", []string{"a", "b"}},
	} {
		if got := Tokens(tt.in); !cmp.Equal(got, tt.want) {
			t.Errorf("Tokens(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestKey(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"Acme Coffee, Inc.", "acmecoffeeinc"},
		{"  ACME   coffee inc ", "acmecoffeeinc"},
		{"(512) 555-0199", "5125550199"},
		{"512.555.0199", "5125550199"},
		{"2024-03-15T09:30:00Z", "20240315t093000z"},
		{"José", "josé"},
		{"!!", ""},
	} {
		if got := Key(tt.in); got != tt.want {
			t.Errorf("Key(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestIsDecimal(t *testing.T) {
	for in, want := range map[string]bool{
		"78744": true, "-97.74": true, "0.5": true, "007": true,
		"": false, "-": false, "1.": false, ".5": false, "1e5": false, "+1": false, "1,000": false, "H2X": false,
	} {
		if got := IsDecimal([]byte(in)); got != want {
			t.Errorf("IsDecimal(%q) = %v, want %v", in, got, want)
		}
	}
}

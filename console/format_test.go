package console

import (
	"testing"
	"time"
)

func TestFormat(t *testing.T) {
	for _, c := range []struct {
		name, got, want string
	}{
		{"zero", thousands(0), "0"},
		{"three digits", thousands(999), "999"},
		{"four digits", thousands(1000), "1,000"},
		{"seven digits", thousands(1234567), "1,234,567"},
		{"negative", thousands(-998), "-998"},
		{"negative thousands", thousands(-1234567), "-1,234,567"},
		{"cents", money(5), "0.05"},
		{"units and cents", money(150), "1.50"},
		{"thousands of units", money(123456789), "1,234,567.89"},
		{"negative money", money(-250), "-2.50"},
		{"a time in another zone", string(when(time.Date(2026, 12, 3, 18, 4, 0, 0, time.FixedZone("CET", 3600)))),
			`<time datetime="2026-12-03T17:04:00Z"><span class="nw">2026-12-03</span> <span class="nw">17:04 UTC</span></time>`},
		{"no time", string(when(time.Time{})), "–"},
		{"no time pointer", string(whenPtr(nil)), "–"},
		{"one", count(1, "credit", "credits"), "1 credit"},
		{"many", count(1500, "credit", "credits"), "1,500 credits"},
		{"none", count(0, "credit", "credits"), "0 credits"},
	} {
		if c.got != c.want {
			t.Errorf("%s: %q, want %q", c.name, c.got, c.want)
		}
	}
}

func TestSafeNext(t *testing.T) {
	for next, want := range map[string]string{
		"/console/holds?status=unpaid": "/console/holds?status=unpaid",
		"":                             "",
		"https://evil.example/":        "",
		"//evil.example/console/":      "",
		"/v1/holds":                    "",
		"/console/\\evil":              "",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

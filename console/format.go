package console

import (
	"html/template"
	"net/url"
	"strconv"
	"time"
)

// funcs are the templates' formatting functions: numbers as people read
// them, times in UTC with the zone shown. No business logic lives here.
var funcs = template.FuncMap{
	"num":     thousands,
	"money":   money,
	"when":    when,
	"whenp":   whenPtr,
	"pathseg": url.PathEscape,
	"query":   url.QueryEscape,
	"int64":   func(n int) int64 { return int64(n) },
	"count":   count,
	"tasks":   func(title string, t []taskView) taskList { return taskList{Title: title, Tasks: t} },
}

// taskList is a titled list of tasks for the queues page.
type taskList struct {
	Title string
	Tasks []taskView
}

// thousands writes n with a comma between each group of three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := s[0] == '-'
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3+1)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// money writes cents as units with two decimals and thousands separators.
func money(cents int64) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	c := strconv.FormatInt(cents%100, 10)
	if len(c) == 1 {
		c = "0" + c
	}
	return sign + thousands(cents/100) + "." + c
}

// when writes a time in UTC with the zone shown, as a <time> element whose
// date and time each stay on one line; "–" for none.
func when(t time.Time) template.HTML {
	if t.IsZero() {
		return "–"
	}
	u := t.UTC()
	return template.HTML(`<time datetime="` + u.Format(time.RFC3339) + `"><span class="nw">` + u.Format("2006-01-02") +
		`</span> <span class="nw">` + u.Format("15:04") + ` UTC</span></time>`)
}

func whenPtr(t *time.Time) template.HTML {
	if t == nil {
		return "–"
	}
	return when(*t)
}

// count writes n with thousands separators and the noun, singular for 1:
// "1 credit", "1,500 credits".
func count(n int64, one, many string) string {
	if n == 1 || n == -1 {
		return thousands(n) + " " + one
	}
	return thousands(n) + " " + many
}

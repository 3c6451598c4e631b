package benchmark

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, c := range []struct {
		name   string
		values []time.Duration
		p      float64
		want   time.Duration
	}{
		{"one value", ms(7), 50, 7 * time.Millisecond},
		{"median of odd count", ms(1, 2, 3), 50, 2 * time.Millisecond},
		{"median of even count is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 100 is the 99th", hundred, 99, 99 * time.Millisecond},
		{"p99.9 of 100 is the max", hundred, 99.9, 100 * time.Millisecond},
		{"p100 is the max", ms(1, 5, 9), 100, 9 * time.Millisecond},
		{"tiny p is the min", ms(1, 5, 9), 0.001, time.Millisecond},
	} {
		got, err := Percentile(c.values, c.p)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s: p%g = %s, want %s", c.name, c.p, got, c.want)
		}
	}
	for _, c := range []struct {
		name   string
		values []time.Duration
		p      float64
	}{{"no values", nil, 50}, {"p 0", ms(1), 0}, {"p over 100", ms(1), 101}} {
		if _, err := Percentile(c.values, c.p); err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
}

func TestParseKB(t *testing.T) {
	n, err := parseKB("\t  146012 kB")
	if err != nil || n != 146012<<10 {
		t.Errorf("parseKB = %d, %v; want %d", n, err, 146012<<10)
	}
	for _, bad := range []string{"", "12", "12 MB", "x kB"} {
		if _, err := parseKB(bad); err == nil {
			t.Errorf("parseKB(%q): no error", bad)
		}
	}
}

// Drain makes exactly count calls, starts the consumer once, and returns
// when the consumer has counted them all.
func TestDrainCountsEveryTask(t *testing.T) {
	const count = 1000
	tasks := make(chan struct{}, count)
	done := NewCounter(count)
	var produced, starts atomic.Int64
	produce := func(context.Context) error {
		produced.Add(1)
		tasks <- struct{}{}
		return nil
	}
	start := func() error {
		starts.Add(1)
		go func() {
			for range tasks {
				done.Add()
			}
		}()
		return nil
	}
	elapsed, err := Drain(t.Context(), count, 8, produce, start, done)
	close(tasks)
	if err != nil {
		t.Fatal(err)
	}
	if produced.Load() != count || starts.Load() != 1 || elapsed <= 0 {
		t.Errorf("produced %d, started %d times, in %s; want %d, 1, some time", produced.Load(), starts.Load(), elapsed, count)
	}
}

func TestDrainStopsAtTheFirstFailure(t *testing.T) {
	boom := errors.New("boom")
	done := NewCounter(10)
	var calls atomic.Int64
	_, err := Drain(t.Context(), 10, 2, func(context.Context) error {
		if calls.Add(1) == 3 {
			return boom
		}
		return nil
	}, func() error { return nil }, done)
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want boom", err)
	}
}

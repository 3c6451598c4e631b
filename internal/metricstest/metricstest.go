// Package metricstest reads gathered Prometheus metrics in tests.
package metricstest

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value is the value of the first series of the named metric that has
// every name, value pair of labels: a counter's or gauge's value, a
// histogram's sample count; -1 when there is none.
func Value(families []*dto.MetricFamily, name string, labels ...string) float64 {
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !HasLabels(m, labels...) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return -1
}

// HasLabels reports whether m has every name, value pair of kv.
func HasLabels(m *dto.Metric, kv ...string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == kv[i] && l.GetValue() == kv[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// FailingCollector is a collector of one metric, creditrun_test_failing,
// whose every scrape fails, as the job queue's does while Redis is down.
func FailingCollector() prometheus.Collector {
	return failing{prometheus.NewDesc("creditrun_test_failing", "A collector that fails.", nil, nil)}
}

type failing struct{ desc *prometheus.Desc }

func (c failing) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c failing) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.NewInvalidMetric(c.desc, errors.New("redis is down"))
}

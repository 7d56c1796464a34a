// Package metrics writes CloudWatch Embedded Metric Format (EMF) lines: one
// JSON object per line, on the function's stdout, from which CloudWatch Logs
// extracts the metrics. No API call and no permission beyond the logs'.
// Spec: https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package metrics

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Unit is a CloudWatch unit name.
type Unit string

// The units we emit.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
)

// Metric is one value of a line.
type Metric struct {
	Name  string
	Unit  Unit
	Value float64
}

// Line is one EMF document. Properties hold every dimension's value (the
// spec requires each dimension key at the root) and any other string worth
// querying in Logs Insights, such as a request id, which must not be a
// dimension: each distinct dimension value is a separate, billed metric.
type Line struct {
	Dimensions [][]string
	Properties map[string]string
	Metrics    []Metric
}

type metricDefinition struct {
	Name string
	Unit Unit
}

type directive struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []metricDefinition
}

type metadata struct {
	Timestamp         int64
	CloudWatchMetrics []directive
}

// Encode renders l as one EMF document (without the newline).
func Encode(namespace string, at time.Time, l Line) []byte {
	root := make(map[string]any, len(l.Properties)+len(l.Metrics)+1)
	for k, v := range l.Properties {
		root[k] = v
	}
	d := directive{Namespace: namespace, Dimensions: l.Dimensions}
	if d.Dimensions == nil {
		d.Dimensions = [][]string{} // the spec wants an array, even when empty
	}
	for _, m := range l.Metrics {
		d.Metrics = append(d.Metrics, metricDefinition{Name: m.Name, Unit: m.Unit})
		root[m.Name] = m.Value
	}
	root["_aws"] = metadata{Timestamp: at.UnixMilli(), CloudWatchMetrics: []directive{d}}
	b, err := json.Marshal(root)
	if err != nil {
		// Strings, float64s and fixed structs always marshal.
		panic("metrics: " + err.Error())
	}
	return b
}

// Emitter writes lines to w, one Write per line so that lines written from
// concurrent deliveries never interleave. A nil *Emitter records nothing, so
// tests that do not look at metrics need not build one.
type Emitter struct {
	w         io.Writer
	namespace string
	now       func() time.Time
	mu        sync.Mutex
}

// New returns an Emitter writing to w (in Lambda, os.Stdout).
func New(w io.Writer, namespace string, now func() time.Time) *Emitter {
	return &Emitter{w: w, namespace: namespace, now: now}
}

// Emit writes one line. A failed write is dropped: metrics are best effort
// and stdout is all Lambda gives us.
func (e *Emitter) Emit(l Line) {
	if e == nil {
		return
	}
	b := append(Encode(e.namespace, e.now(), l), '\n')
	e.mu.Lock()
	defer e.mu.Unlock()
	_, _ = e.w.Write(b)
}

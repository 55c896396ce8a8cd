// Package scrape reads a /metrics page the way Prometheus does, with
// Prometheus's own parsers, for tests and the bench: a page our parsers
// accept but Prometheus's would not is a bug.
//
// It must not be imported by the product.
package scrape

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Page is one scrape: the families by name, and the content type served.
type Page struct {
	Families    map[string]*dto.MetricFamily
	ContentType string
}

// Get scrapes url with accept as the Accept header (empty: Prometheus's
// text format only) and parses the answer in the format it declares.
func Get(url, accept string) (*Page, error) {
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, b)
	}
	return Parse(resp.Body, resp.Header.Get("Content-Type"))
}

// Parse parses a page served with contentType.
func Parse(r io.Reader, contentType string) (*Page, error) {
	dec := expfmt.NewDecoder(r, expfmt.Format(contentType))
	p := &Page{Families: map[string]*dto.MetricFamily{}, ContentType: contentType}
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err == io.EOF {
			return p, nil
		} else if err != nil {
			return nil, fmt.Errorf("parse (%s): %w", contentType, err)
		}
		p.Families[mf.GetName()] = mf
	}
}

// Value is the value of the series name{labels} (pairs: "probe", "ready"),
// and whether it is on the page. Labels not given must not matter: the
// first series whose given labels match is taken.
func (p *Page) Value(name string, labels ...string) (float64, bool) {
	mf, ok := p.Families[name]
	if !ok {
		// OpenMetrics names a counter's family without _total.
		if mf, ok = p.Families[strings.TrimSuffix(name, "_total")]; !ok {
			return 0, false
		}
	}
	for _, m := range mf.GetMetric() {
		if !matches(m, labels) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Untyped != nil:
			return m.GetUntyped().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// Sum adds every series of name whose given labels match.
func (p *Page) Sum(name string, labels ...string) float64 {
	mf, ok := p.Families[name]
	if !ok {
		mf = p.Families[strings.TrimSuffix(name, "_total")]
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		if matches(m, labels) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// Label is the value of label key on the first series of name whose given
// labels match.
func (p *Page) Label(name, key string, labels ...string) (string, bool) {
	mf, ok := p.Families[name]
	if !ok {
		return "", false
	}
	for _, m := range mf.GetMetric() {
		if matches(m, labels) {
			for _, l := range m.GetLabel() {
				if l.GetName() == key {
					return l.GetValue(), true
				}
			}
		}
	}
	return "", false
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"

	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// samples are Prometheus metric families by name.
type samples map[string]*dto.MetricFamily

func parseMetrics(r io.Reader) (samples, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(r)
	return samples(families), err
}

func scrape(url string) (samples, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return parseMetrics(resp.Body)
}

// apiserverMetrics reads the API server's own metrics as the admin user.
func (h *harness) apiserverMetrics() samples {
	cs, err := kubernetes.NewForConfig(h.cfg)
	if err != nil {
		h.b.Fatal(err)
	}
	body, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		h.b.Fatalf("API server metrics: %v", err)
	}
	s, err := parseMetrics(strings.NewReader(string(body)))
	if err != nil {
		h.b.Fatal(err)
	}
	return s
}

// matching yields the series of a family whose labels include want.
func (s samples) matching(name string, want map[string]string) []*dto.Metric {
	f := s[name]
	if f == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range f.GetMetric() {
		if hasLabels(m, want) {
			out = append(out, m)
		}
	}
	return out
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	for k, v := range want {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sum adds the values of counters and gauges (histogram: observations).
func (s samples) sum(name string, want map[string]string) float64 {
	total := 0.0
	for _, m := range s.matching(name, want) {
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Untyped != nil:
			total += m.GetUntyped().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// histogram adds up the sum and count of a histogram's series.
func (s samples) histogram(name string, want map[string]string) (sum float64, count uint64) {
	for _, m := range s.matching(name, want) {
		sum += m.GetHistogram().GetSampleSum()
		count += m.GetHistogram().GetSampleCount()
	}
	return sum, count
}

// meanSince is a histogram's mean observation between two scrapes.
func meanSince(before, after samples, name string, want map[string]string) (mean float64, count uint64) {
	s0, c0 := before.histogram(name, want)
	s1, c1 := after.histogram(name, want)
	if c1 <= c0 {
		return math.NaN(), 0
	}
	return (s1 - s0) / float64(c1-c0), c1 - c0
}

// apiRequests counts the API server's requests by "VERB resource[/sub]"
// between two scrapes, with their mean latency as the server measured it.
func apiRequests(before, after samples) map[string]mean {
	key := func(m *dto.Metric) string {
		k := label(m, "verb") + " " + label(m, "resource")
		if sub := label(m, "subresource"); sub != "" {
			k += "/" + sub
		}
		return k
	}
	type acc struct {
		sum   float64
		count int64
	}
	totals := map[string]acc{}
	for sign, s := range map[int64]samples{1: after, -1: before} {
		for _, m := range s.matching("apiserver_request_duration_seconds", nil) {
			a := totals[key(m)]
			a.sum += float64(sign) * m.GetHistogram().GetSampleSum()
			a.count += sign * int64(m.GetHistogram().GetSampleCount())
			totals[key(m)] = a
		}
	}
	out := map[string]mean{}
	for k, a := range totals {
		if a.count > 0 {
			out[k] = mean{seconds: a.sum / float64(a.count), count: uint64(a.count)}
		}
	}
	return out
}

// chartEnv is the environment the chart gives the operator's container
// with its default values (GOMEMLIMIT and GOGC, as `key=value`), rendered
// by the pinned Helm, so the bench runs the operator as production does.
func chartEnv(t testing.TB) []string {
	out, err := exec.Command(testenv.Helm.Binary(t), "template", "bench",
		filepath.Join(testenv.RepoRoot(), "charts", "apigee-key-operator"), "--show-only", "templates/deployment.yaml").Output()
	if err != nil {
		t.Fatalf("helm template: %v", err)
	}
	var dep appsv1.Deployment
	if err := yaml.Unmarshal(out, &dep); err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, e := range dep.Spec.Template.Spec.Containers[0].Env {
		env = append(env, e.Name+"="+e.Value)
	}
	return env
}

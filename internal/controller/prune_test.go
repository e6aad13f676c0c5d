package controller

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/connect"
)

// emptyAnswers answers every call with 200 and {}.
type emptyAnswers struct{}

func (emptyAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

// TestOrganizationStateGoesWithItsLastConnection replays issue 21's third
// sequence: a connection's organization renamed 30 times, each used for a
// call, a turn and a snapshot, then the connection deleted. Each rename
// prunes the organization left behind, and the deletion the last one: no
// limiter, health, lane, snapshot or metric series survives.
func TestOrganizationStateGoesWithItsLastConnection(t *testing.T) {
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "token"}, Data: map[string][]byte{"token": []byte("t")}}
	reg := prometheus.NewRegistry()
	factory := func(ctx context.Context, cfg connect.Config) (apigee.Client, error) {
		cfg.Transport = emptyAnswers{}
		return connect.New(ctx, cfg)
	}
	cs := NewConnections(nil, fake.NewClientBuilder().WithObjects(secret).Build(), factory, apigee.NewMetrics(reg), Tenancy{})
	gates := newOrgGates(2, 2, time.Now)
	gates.waitingKeys = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "apigee_key_operator_keys_waiting"}, []string{"endpoint", "organization"})
	reg.MustRegister(gates.waitingKeys)
	snapshots := newAppSnapshots(time.Minute, time.Hour, time.Now)
	shareOrganizationState(cs, gates, snapshots)

	spec := ambientSpec("http://tenant.test")
	spec.Auth = apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{SecretRef: apigeev1alpha1.SecretReference{Name: "token"}}}
	conn := namespacedConn(spec)
	for i := range 30 {
		conn.spec.Organization = fmt.Sprint("org-", i)
		conn.object.SetGeneration(int64(i + 1))
		c, err := cs.ClientFor(context.Background(), conn)
		if err != nil {
			t.Fatal(err)
		}
		limiter, health := cs.organization(conn.spec.EffectiveEndpoint(), conn.spec.Organization)
		key := nn(fmt.Sprint("key-", i))
		_, _ = gates.enter(apigee.OrgKey(conn.spec.EffectiveEndpoint(), conn.spec.Organization), limiter, health, key, conn.spec.EffectiveEndpoint(), conn.spec.Organization, true)
		loc := apigeev1alpha1.KeyLocation{Endpoint: conn.spec.EffectiveEndpoint(), Organization: conn.spec.Organization, Developer: "dev@example.com", App: "a"}
		if _, err := snapshots.get(context.Background(), c, string(conn.object.GetUID()), loc, time.Time{}); err != nil {
			t.Fatal(err)
		}
		gates.leave(key, false)
	}
	if orgs, _ := cs.limiters.Len(); orgs != 1 || cs.health.Len() != 1 || len(gates.lanes) != 1 {
		t.Errorf("after 30 renames: %d limiters, %d healths, %d lanes; want the current organization's alone", orgs, cs.health.Len(), len(gates.lanes))
	}
	if n, _ := snapshots.len(); n != 1 {
		t.Errorf("after 30 renames: %d snapshots; want 1", n)
	}
	if n := testutil.CollectAndCount(reg); n != 3 { // requests, duration and waiting, for org-29 only
		t.Errorf("after 30 renames: %d series; want 3", n)
	}

	cs.Forget("ApigeeConnection", client.ObjectKeyFromObject(conn.object))
	orgs, conns := cs.limiters.Len()
	if orgs+conns+cs.health.Len()+len(gates.lanes)+len(gates.held)+len(cs.byOrg)+len(cs.reaches)+len(cs.clients) != 0 {
		t.Errorf("after the deletion: %d+%d limiters, %d healths, %d lanes, %d namespaces held, %d organizations, %d connections, %d clients; want none",
			orgs, conns, cs.health.Len(), len(gates.lanes), len(gates.held), len(cs.byOrg), len(cs.reaches), len(cs.clients))
	}
	if n, _ := snapshots.len(); n != 0 {
		t.Errorf("after the deletion: %d snapshots", n)
	}
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Errorf("after the deletion: %d metric series survive", n)
	}
}

// TestOrganizationSeriesAreBounded: calls to more organizations than
// apigee.DefaultOrganizationSeries share one label value beyond it.
func TestOrganizationSeriesAreBounded(t *testing.T) {
	m := apigee.NewMetrics(prometheus.NewRegistry())
	for i := range apigee.DefaultOrganizationSeries {
		if got := m.OrganizationLabel(fmt.Sprint("org-", i)); got != fmt.Sprint("org-", i) {
			t.Fatalf("organization %d labelled %q", i, got)
		}
	}
	if got := m.OrganizationLabel("one-more"); got != apigee.OtherOrganizations {
		t.Fatalf("one organization too many labelled %q; want %q", got, apigee.OtherOrganizations)
	}
	m.ForgetOrganization("org-0")
	if got := m.OrganizationLabel("one-more"); got != "one-more" {
		t.Errorf("after one was forgotten, a new organization labelled %q", got)
	}
}

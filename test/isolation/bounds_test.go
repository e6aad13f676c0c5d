package isolation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/controller"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

// padApps serves the emulator's X API, adding to every app it returns a
// credential with an attribute of pad bytes: a tenant's endpoint may
// answer anything up to the clients' limit.
func padApps(emu *emulator.Emulator, pad int) http.Handler {
	inner := emu.Handler(emulator.X)
	padding := strings.Repeat("x", pad)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		inner.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/apps/") && !strings.Contains(r.URL.Path, "/keys") && rec.Code == 200 {
			var app map[string]any
			if json.Unmarshal(body, &app) == nil {
				creds, _ := app["credentials"].([]any)
				app["credentials"] = append(creds, map[string]any{"consumerKey": "padding", "consumerSecret": "padding",
					"attributes": []any{map[string]any{"name": "pad", "value": padding}}})
				body, _ = json.Marshal(app)
			}
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = bytes.NewReader(body).WriteTo(w)
	})
}

// liveHeap is the heap in use after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestTenantAnswersLeaveWithTheirObjects replays issue 21's second
// sequence: a tenant's endpoint answers every app read with 4 MiB, for 15
// keys in 15 apps; once the keys (deletionPolicy Orphan: no write) and the
// connection are deleted, the heap comes back near where it started (it
// stayed 60 MiB up when snapshots were evicted only by a write).
func TestTenantAnswersLeaveWithTheirObjects(t *testing.T) {
	const keys, pad = 15, 4 << 20
	env := testenv.Start(t)
	startManager(t, env, controller.Options{ResyncInterval: 3 * time.Second, Tenancy: fastBudget})
	emu := emulator.New(emulator.Options{Organization: "padded", BearerToken: token})
	emu.AddDeveloper(developer)
	emu.AddProduct("p1", "auto")
	for a := range keys {
		if _, err := emu.AddApp(developer, fmt.Sprintf("app-%d", a)); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(padApps(emu, pad))
	t.Cleanup(srv.Close)
	ns := env.Namespace(t, nil)
	createToken(t, env.Client, ns)
	createConnection(t, env.Client, ns, "prod", "padded", srv.URL)
	waitConnectionReady(t, env.Client, ns, "prod")
	start := liveHeap()

	orphan := func(k *apigeev1alpha1.DeveloperAppKey) { k.Spec.DeletionPolicy = apigeev1alpha1.DeletionPolicyOrphan }
	createKeysVia(t, env.Client, ns, "prod", "k", keys, keys, orphan)
	waitAllReady(t, env.Client, ns, keys, 3*time.Minute)
	emu.ResetCalls()
	testenv.Eventually(t, time.Minute, "every app read at its resync", func() (bool, string) {
		n := gets(emu.CallLog())
		return n >= keys, fmt.Sprintf("%d GET app", n)
	})
	during := liveHeap()

	must(t, env.Client.DeleteAllOf(context.Background(), &apigeev1alpha1.DeveloperAppKey{}, client.InNamespace(ns)))
	must(t, env.Client.Delete(context.Background(), &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"}}))
	testenv.Eventually(t, time.Minute, "keys and connection gone", func() (bool, string) {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		must(t, env.Client.List(context.Background(), list, client.InNamespace(ns)))
		err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "prod"}, &apigeev1alpha1.ApigeeConnection{})
		return len(list.Items) == 0 && apierrors.IsNotFound(err), fmt.Sprintf("%d keys; connection: %v", len(list.Items), err)
	})
	const slack = 24 << 20
	var after uint64
	testenv.Eventually(t, time.Minute, "the heap back near its start", func() (bool, string) {
		after = liveHeap()
		return after < start+slack, fmt.Sprintf("started at %d MiB, %d MiB with the keys, %d MiB now", start>>20, during>>20, after>>20)
	})
	t.Logf("live heap: %d MiB at the start, %d MiB with the tenant's keys, %d MiB after they went", start>>20, during>>20, after>>20)
}

// TestRenamedOrganizationsLeaveNoSeries replays issue 21's third sequence:
// a connection's organization renamed 30 times, then the connection
// deleted. At each step only the current organization has series; after
// the deletion none is left (62 were).
func TestRenamedOrganizationsLeaveNoSeries(t *testing.T) {
	env := testenv.Start(t)
	startManager(t, env, controller.Options{ResyncInterval: time.Hour, Tenancy: fastBudget})
	o := newOrg(t, "rename-0", 0)
	ns := env.Namespace(t, nil)
	o.connect(t, env.Client, ns)
	for i := 1; i <= 30; i++ {
		conn := &apigeev1alpha1.ApigeeConnection{}
		must(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "prod"}, conn))
		conn.Spec.Organization = fmt.Sprint("rename-", i)
		must(t, env.Client.Update(context.Background(), conn))
		testenv.Eventually(t, 30*time.Second, "the rename probed", func() (bool, string) {
			c := &apigeev1alpha1.ApigeeConnection{}
			must(t, env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: "prod"}, c))
			return c.Status.ObservedGeneration == c.Generation, fmt.Sprintf("generation %d observed %d", c.Generation, c.Status.ObservedGeneration)
		})
	}
	if orgs := seriesOrganizations(t, "rename-"); len(orgs) > 1 {
		t.Errorf("after 30 renames, series for %d organizations: %v; want the current one's alone", len(orgs), orgs)
	}
	must(t, env.Client.Delete(context.Background(), &apigeev1alpha1.ApigeeConnection{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"}}))
	testenv.Eventually(t, 30*time.Second, "no series left", func() (bool, string) {
		orgs := seriesOrganizations(t, "rename-")
		return len(orgs) == 0, fmt.Sprint(orgs)
	})
}

// seriesOrganizations lists the organization labels starting with prefix
// in the operator's registry, with their series count.
func seriesOrganizations(t testing.TB, prefix string) map[string]int {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "organization" && strings.HasPrefix(l.GetValue(), prefix) {
					out[l.GetValue()]++
				}
			}
		}
	}
	return out
}

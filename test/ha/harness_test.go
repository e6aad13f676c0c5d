// Package ha runs the operator as it runs in production with two replicas:
// two processes of the real binary, with leader election, against one
// envtest API server, and the Apigee emulator served by the test. It kills
// the leader mid-import and restarts the API server mid-import, then checks
// that nothing was imported twice, lost or deleted without being asked for.
package ha

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
	"github.com/apigee-key-operator/apigee-key-operator/internal/testenv"
)

const (
	developer = "partner@example.com"
	token     = "ha-test-token"
	// leaseName is the operator's LeaderElectionID.
	leaseName = "apigee-key-operator.apigee.keyoperator.io"
	leaseNS   = "apigee-key-operator"
)

// Lease timings the replicas run with: short, so a failover fits in a CI
// run, but with room for a loaded machine (a leader that misses its renew
// deadline exits, which would be a failover the test did not ask for).
const (
	leaseDuration = 6 * time.Second
	renewDeadline = 4 * time.Second
	retryPeriod   = time.Second
)

// operatorBinary is the operator built once for the package.
var operatorBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ha-operator-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	operatorBinary = filepath.Join(dir, "apigee-key-operator")
	build := exec.Command("go", "build", "-o", operatorBinary, "./cmd/apigee-key-operator")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the operator: %v\n%s", err, out)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	// envtest logs through controller-runtime; the operator's own logs are
	// the processes' output.
	ctrl.SetLogger(logr.Discard())
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// cluster is one control plane with the lease namespace and a kubeconfig
// for envtest's admin user, for the operator processes.
type cluster struct {
	env        *testenv.Env
	kubeconfig string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	env := testenv.StartRestartable(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &cluster{env: env, kubeconfig: kubeconfig}
	c.create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: leaseNS}})
	return c
}

func (c *cluster) create(t *testing.T, obj client.Object) {
	t.Helper()
	if err := c.env.Client.Create(context.Background(), obj); err != nil {
		t.Fatalf("creating %T %s: %v", obj, obj.GetName(), err)
	}
}

// lease is the leader election Lease, or an empty one before any replica
// has taken it.
func (c *cluster) lease(t *testing.T) coordinationv1.Lease {
	t.Helper()
	l := coordinationv1.Lease{}
	if err := c.env.Client.Get(context.Background(), types.NamespacedName{Namespace: leaseNS, Name: leaseName}, &l); client.IgnoreNotFound(err) != nil {
		t.Logf("reading the lease: %v", err)
	}
	return l
}

func holder(l coordinationv1.Lease) string {
	if l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// --- operator processes ---------------------------------------------------

// replica is one operator process. Its stdout and stderr go to out, which
// the tests search for key and secret values. With restart set it is
// started again when it exits on its own, as the kubelet restarts a pod
// (a leader that cannot renew its lease exits).
type replica struct {
	name    string
	args    []string
	restart bool
	out     *testenv.Buffer

	mu       sync.Mutex
	cmd      *exec.Cmd
	stopping bool
	exits    []string // how each run ended
	done     chan struct{}
}

// startReplica starts an operator process with leader election against c.
func startReplica(t *testing.T, c *cluster, name string, restart bool) *replica {
	t.Helper()
	r := &replica{name: name, restart: restart, out: &testenv.Buffer{}, done: make(chan struct{}), args: []string{
		"--kubeconfig=" + c.kubeconfig,
		"--leader-elect", "--leader-election-namespace=" + leaseNS,
		"--leader-election-lease-duration=" + leaseDuration.String(),
		"--leader-election-renew-deadline=" + renewDeadline.String(),
		"--leader-election-retry-period=" + retryPeriod.String(),
		"--metrics-bind-address=0", "--health-probe-bind-address=0",
		// The most verbose logs: no key or secret may appear at any level.
		"-v=10",
	}}
	cmd, err := r.start()
	if err != nil {
		t.Fatalf("starting replica %s: %v", name, err)
	}
	go r.supervise(cmd)
	t.Cleanup(func() {
		r.stop(t)
		r.saveOutput(t)
	})
	return r
}

// errStopping: the test is stopping the replica; it is not started again.
var errStopping = errors.New("stopping")

// start starts a run of the process, unless the replica is being stopped
// (under the lock signal takes, so a run cannot start unseen by a stop).
func (r *replica) start() (*exec.Cmd, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopping {
		return nil, errStopping
	}
	cmd := exec.Command(operatorBinary, r.args...)
	cmd.Stdout, cmd.Stderr = r.out, r.out
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.cmd = cmd
	return cmd, nil
}

// supervise waits for the process and, if it stopped on its own and
// restart is set, starts it again after a back-off that doubles while runs
// keep failing fast (a process cannot start while the API server is down),
// as the kubelet's does.
func (r *replica) supervise(cmd *exec.Cmd) {
	defer close(r.done)
	backoff := 250 * time.Millisecond
	for {
		began := time.Now()
		err := cmd.Wait()
		r.mu.Lock()
		r.exits = append(r.exits, fmt.Sprint(err))
		stopping := r.stopping
		r.mu.Unlock()
		if stopping || !r.restart {
			return
		}
		if time.Since(began) > 10*time.Second {
			backoff = 250 * time.Millisecond
		}
		fmt.Fprintf(r.out, "--- test: %s exited (%v); starting it again in %s, as the kubelet would\n", r.name, err, backoff)
		time.Sleep(backoff)
		backoff = min(2*backoff, 4*time.Second)
		if cmd, err = r.start(); err != nil {
			if !errors.Is(err, errStopping) {
				fmt.Fprintf(r.out, "--- test: restarting %s: %v\n", r.name, err)
			}
			return
		}
	}
}

// signal sends sig to the process and stops supervising it.
func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopping = true
	_ = r.cmd.Process.Signal(sig)
}

// kill is SIGKILL: no chance to release the lease or finish a request.
func (r *replica) kill(t *testing.T) {
	t.Helper()
	r.signal(syscall.SIGKILL)
	r.wait(t, 10*time.Second)
}

// stop is SIGTERM, as Kubernetes stops a pod; SIGKILL if it hangs.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if r.exited() {
		return
	}
	r.signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(45 * time.Second):
		t.Errorf("replica %s did not stop within 45s of SIGTERM", r.name)
		r.signal(syscall.SIGKILL)
		<-r.done
	}
}

func (r *replica) wait(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case <-r.done:
	case <-time.After(d):
		t.Fatalf("replica %s still running after %s", r.name, d)
	}
}

func (r *replica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// runs is how the process's runs ended so far.
func (r *replica) runs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.exits)
}

// startedWorkers counts the times this replica started reconciling keys:
// controller-runtime starts controllers only on the elected leader.
func (r *replica) startedWorkers() int {
	n := 0
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(line, `"msg":"Starting workers"`) && strings.Contains(line, `"controller":"developerappkey"`) {
			n++
		}
	}
	return n
}

// problems is the replica's error lines, shortened, for a failure
// message; a line with a value of keys in it is withheld.
func (r *replica) problems(keys []keySpec) string {
	x := valuesOf(keys)
	var out []string
	for _, line := range strings.Split(r.out.String(), "\n") {
		if strings.Contains(line, `"level":"error"`) || strings.HasPrefix(line, "--- test:") {
			if len(x.find(line)) > 0 {
				line = "(a line with a key or secret value, withheld)"
			}
			if len(line) > 400 {
				line = line[:400] + "…"
			}
			out = append(out, line)
		}
	}
	if len(out) > 20 {
		out = out[len(out)-20:]
	}
	return strings.Join(out, "\n")
}

// saveOutput writes the replica's output to $HA_LOG_DIR, when set, for
// reading after a run.
func (r *replica) saveOutput(t *testing.T) {
	dir := os.Getenv("HA_LOG_DIR")
	if dir == "" {
		return
	}
	name := filepath.Join(dir, strings.ReplaceAll(t.Name(), "/", "_")+"-"+r.name+".log")
	if err := os.WriteFile(name, []byte(r.out.String()), 0o600); err != nil {
		t.Logf("saving %s's output: %v", r.name, err)
	}
}

// --- Apigee ---------------------------------------------------------------

// apigeeOrg is the emulator behind an HTTP server, with a record of every
// key creation: which key (by fingerprint), Apigee's answer, and whether
// the answer is still on its way. The emulator's own call log has no key
// for a create (the key is in the body).
type apigeeOrg struct {
	emu *emulator.Emulator
	srv *httptest.Server
	// hold delays create answers after the key exists, so a leader can die
	// between Apigee creating the key and learning that it did.
	hold time.Duration

	mu      sync.Mutex
	creates []*create
	// gate, when set, holds create answers further until it is closed.
	gate chan struct{}
}

type create struct {
	fingerprint string
	status      int       // 0 until Apigee has answered
	delivered   time.Time // when the answer was sent back
	lost        bool      // the importer went away before its answer was sent
	aborted     bool      // the importer went away before Apigee acted
}

func (c *create) done() bool { return !c.delivered.IsZero() || c.lost || c.aborted }

// newApigee serves an organization with the developer and the products.
// Its apps come later (addApps).
func newApigee(t *testing.T, hold time.Duration) *apigeeOrg {
	t.Helper()
	emu := emulator.New(emulator.Options{Organization: "ha-org", BearerToken: token})
	emu.AddDeveloper(developer)
	emu.AddProduct("orders-read", "auto")
	emu.AddProduct("orders-admin", "manual")
	a := &apigeeOrg{emu: emu, hold: hold}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

// addApps creates the apps, each with the key Apigee generates with an
// app, and returns those keys' fingerprints by app. The tests create them
// just before the DeveloperAppKeys, as a pipeline would: keys imported
// within seconds look, by their time, like keys generated with the app,
// and only the objects that hold them (or have yet to record one) keep
// autoGeneratedKeys: Delete off them.
func (a *apigeeOrg) addApps(t *testing.T, apps []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, app := range apps {
		c, err := a.emu.AddApp(developer, app)
		if err != nil {
			t.Fatal(err)
		}
		out[app] = apigee.Fingerprint(c.ConsumerKey)
	}
	return out
}

func (a *apigeeOrg) serve(w http.ResponseWriter, r *http.Request) {
	next := a.emu.Handler(emulator.X)
	if r.Method != http.MethodPost || !(strings.HasSuffix(r.URL.Path, "/keys/create") || strings.HasSuffix(r.URL.Path, "/keys")) {
		next.ServeHTTP(w, r)
		return
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	var req struct {
		ConsumerKey string `json:"consumerKey"`
	}
	_ = json.Unmarshal(body, &req)
	c := &create{fingerprint: apigee.Fingerprint(req.ConsumerKey)}
	a.mu.Lock()
	a.creates = append(a.creates, c)
	a.mu.Unlock()

	rec := &answer{header: http.Header{}}
	next.ServeHTTP(rec, r)
	a.mu.Lock()
	c.status = rec.status
	a.mu.Unlock()
	if rec.status == 0 {
		a.mu.Lock()
		c.aborted = true // the importer went away before Apigee acted
		a.mu.Unlock()
		return
	}
	if rec.status < 300 {
		// The key exists; its importer does not know yet.
		select {
		case <-time.After(a.hold):
		case <-r.Context().Done():
		}
		a.mu.Lock()
		gate := a.gate
		a.mu.Unlock()
		if gate == nil {
			gate = closed
		}
		select {
		case <-gate:
		case <-r.Context().Done():
		}
		if r.Context().Err() != nil {
			a.mu.Lock()
			c.lost = true
			a.mu.Unlock()
			return
		}
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	_, _ = w.Write(rec.body.Bytes())
	a.mu.Lock()
	c.delivered = time.Now()
	a.mu.Unlock()
}

// answer is a response kept back. Unlike httptest.ResponseRecorder its
// status stays 0 when nothing was written (the emulator gives up on a
// request whose client went away before it acted).
type answer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (a *answer) Header() http.Header { return a.header }

func (a *answer) WriteHeader(status int) {
	if a.status == 0 {
		a.status = status
	}
}

func (a *answer) Write(b []byte) (int, error) {
	a.WriteHeader(http.StatusOK)
	return a.body.Write(b)
}

// closed is an open gate.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// holdAnswers holds the answers of creates, from now until the returned
// func is called.
func (a *apigeeOrg) holdAnswers() (release func()) {
	gate := make(chan struct{})
	a.mu.Lock()
	a.gate = gate
	a.mu.Unlock()
	return func() {
		a.mu.Lock()
		a.gate = nil
		a.mu.Unlock()
		close(gate)
	}
}

// progress is how many keys Apigee has created, and which of them have an
// answer still on its way to the importer.
func (a *apigeeOrg) progress() (created int, unanswered []string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.creates {
		if c.status >= 200 && c.status < 300 {
			created++
			if !c.done() {
				unanswered = append(unanswered, c.fingerprint)
			}
		}
	}
	return created, unanswered
}

// inFlight counts the creates Apigee has not finished answering.
func (a *apigeeOrg) inFlight() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.creates {
		if !c.done() {
			n++
		}
	}
	return n
}

// answeredSince counts the keys Apigee created whose answers were sent
// back after t.
func (a *apigeeOrg) answeredSince(t time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.creates {
		if c.status >= 200 && c.status < 300 && c.delivered.After(t) {
			n++
		}
	}
	return n
}

// lostAnswers lists the keys Apigee created whose importer went away
// before it got the answer: only Apigee knows they exist.
func (a *apigeeOrg) lostAnswers() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []string
	for _, c := range a.creates {
		if c.lost && c.status >= 200 && c.status < 300 {
			out = append(out, c.fingerprint)
		}
	}
	return out
}

// successfulCreates counts the creates Apigee accepted, per key.
func (a *apigeeOrg) successfulCreates() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string]int{}
	for _, c := range a.creates {
		if c.status >= 200 && c.status < 300 {
			out[c.fingerprint]++
		}
	}
	return out
}

// deletes lists the keys (by fingerprint) of every DELETE Apigee received,
// and how many product removals it received.
func (a *apigeeOrg) deletes() (keys []string, productRemovals int) {
	for _, c := range a.emu.CallLog() {
		switch c.Operation {
		case emulator.OpDeleteKey:
			keys = append(keys, c.Path[strings.LastIndex(c.Path, "/")+1:])
		case emulator.OpDeleteKeyProduct:
			productRemovals++
		}
	}
	return keys, productRemovals
}

// --- keys -----------------------------------------------------------------

// keySpec is one DeveloperAppKey of a test, with its Secret's values.
type keySpec struct {
	name, app   string
	key, secret string
	products    []string
	autoDelete  bool // autoGeneratedKeys: Delete
}

func (k keySpec) fingerprint() string { return apigee.Fingerprint(k.key) }

// batch makes n keys spread over the apps; every third has no product,
// one product or both (orders-admin needs manual approval). Keys and
// secrets are a short marker and 26 random characters, so the tests can
// look for them in the operator's output (see values: every 16 characters
// of a value include random ones). Keys on autoDeleteApp delete the app's generated key.
func batch(n int, apps []string, autoDeleteApp string) []keySpec {
	var out []keySpec
	for i := range n {
		k := keySpec{name: fmt.Sprintf("key-%02d", i), app: apps[i%len(apps)],
			key: "haKeySentinel" + rand.Text(), secret: "haSecret" + rand.Text()}
		switch i % 3 {
		case 1:
			k.products = []string{"orders-read"}
		case 2:
			k.products = []string{"orders-admin", "orders-read"}
		}
		k.autoDelete = k.app == autoDeleteApp
		out = append(out, k)
	}
	return out
}

// setupNamespace makes a namespace with a Ready connection "prod" to the
// emulator; the connection is probed by whichever replica leads.
func setupNamespace(t *testing.T, c *cluster, a *apigeeOrg) string {
	t.Helper()
	ns := c.env.Namespace(t, nil)
	c.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "apigee-token"},
		StringData: map[string]string{"token": token}})
	c.create(t, &apigeev1alpha1.ApigeeConnection{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod"},
		Spec: apigeev1alpha1.ApigeeConnectionSpec{Organization: a.emu.Organization(), Platform: apigeev1alpha1.PlatformX, Endpoint: a.srv.URL,
			Auth: apigeev1alpha1.ConnectionAuth{BearerToken: &apigeev1alpha1.SecretKeyAuth{
				SecretRef: apigeev1alpha1.SecretReference{Name: "apigee-token"}}}},
	})
	eventually(t, 60*time.Second, "connection prod Ready", func() (bool, string) {
		conn := &apigeev1alpha1.ApigeeConnection{}
		if err := c.env.Client.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "prod"}, conn); err != nil {
			return false, err.Error()
		}
		cond := meta.FindStatusCondition(conn.Status.Conditions, apigeev1alpha1.ConditionReady)
		return cond != nil && cond.Status == metav1.ConditionTrue, fmt.Sprint(cond)
	})
	return ns
}

// createKeys creates each key's Secret and DeveloperAppKey.
func createKeys(t *testing.T, c *cluster, ns string, keys []keySpec) {
	t.Helper()
	for _, k := range keys {
		c.create(t, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: k.name},
			Data: map[string][]byte{"consumerKey": []byte(k.key), "consumerSecret": []byte(k.secret)}})
		dak := &apigeev1alpha1.DeveloperAppKey{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: k.name},
			Spec: apigeev1alpha1.DeveloperAppKeySpec{
				ConnectionRef:  apigeev1alpha1.ConnectionReference{Name: "prod"},
				Developer:      developer,
				App:            k.app,
				Credentials:    apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: k.name}},
				DeletionPolicy: apigeev1alpha1.DeletionPolicyDelete,
			},
		}
		for _, p := range k.products {
			dak.Spec.APIProducts = append(dak.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: p})
		}
		if k.autoDelete {
			dak.Spec.AutoGeneratedKeys = apigeev1alpha1.AutoGeneratedKeysDelete
		}
		c.create(t, dak)
	}
}

// waitAllReady waits until every key is Ready (Converged) for its current
// generation and records the Secret's key.
func waitAllReady(t *testing.T, c *cluster, ns string, keys []keySpec, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "every key Ready", func() (bool, string) {
		list := &apigeev1alpha1.DeveloperAppKeyList{}
		if err := c.env.Client.List(context.Background(), list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		got := map[string]*apigeev1alpha1.DeveloperAppKey{}
		for i := range list.Items {
			got[list.Items[i].Name] = &list.Items[i]
		}
		ready := 0
		var waiting string
		for _, k := range keys {
			o := got[k.name]
			if o == nil {
				return false, k.name + " is missing"
			}
			cond := meta.FindStatusCondition(o.Status.Conditions, apigeev1alpha1.ConditionReady)
			if cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == apigeev1alpha1.ReasonConverged &&
				o.Status.ObservedGeneration == o.Generation && o.Status.ConsumerKeyFingerprint == k.fingerprint() {
				ready++
			} else if waiting == "" {
				waiting = fmt.Sprintf("%s: %v", k.name, cond)
			}
		}
		return ready == len(keys), fmt.Sprintf("%d/%d ready; first waiting: %s", ready, len(keys), waiting)
	})
}

// checkApigee checks the organization against the keys: each app holds
// exactly the keys of its objects (each with its secret, approved, with
// its products approved) plus its generated key unless a key asked to
// delete it; no key was created twice; the only keys deleted are those in
// allowedDeletes; no product was ever removed.
func checkApigee(t *testing.T, a *apigeeOrg, apps []string, keys []keySpec, generated map[string]string, allowedDeletes map[string]bool) {
	t.Helper()
	for fp, n := range a.successfulCreates() {
		if n > 1 {
			t.Errorf("key %s was created %d times in Apigee", fp, n)
		}
	}
	deleted, removals := a.deletes()
	for _, fp := range deleted {
		if !allowedDeletes[fp] {
			t.Errorf("key %s was deleted from Apigee, and no spec asked for it", fp)
		}
	}
	if removals > 0 {
		t.Errorf("%d product removals; no spec removes a product", removals)
	}
	byApp := map[string][]keySpec{}
	for _, k := range keys {
		byApp[k.app] = append(byApp[k.app], k)
	}
	for _, app := range apps {
		got, ok := a.emu.App(developer, app)
		if !ok {
			t.Fatalf("app %s is gone", app)
		}
		want := map[string]bool{}
		for _, k := range byApp[app] {
			want[k.fingerprint()] = true
		}
		// A generated key stays unless a key on its app deletes it; that
		// key may also still be waiting (it deletes nothing while another
		// object on the app has not recorded its key, and comes back at
		// resync), so there it may or may not be left.
		autoDelete := slices.ContainsFunc(byApp[app], func(k keySpec) bool { return k.autoDelete })
		if !autoDelete {
			want[generated[app]] = true
		}
		have := map[string]bool{}
		for _, c := range got.Credentials {
			fp := apigee.Fingerprint(c.ConsumerKey)
			have[fp] = true
			switch {
			case fp == generated[app] && autoDelete:
				t.Logf("app %s still has its generated key (autoGeneratedKeys: Delete deletes it at a later resync)", app)
			case !want[fp]:
				t.Errorf("app %s has key %s, which no object holds", app, fp)
			}
		}
		for fp := range want {
			if !have[fp] {
				t.Errorf("app %s lost key %s", app, fp)
			}
		}
		for _, k := range byApp[app] {
			c, ok := got.Credential(k.key)
			if !ok {
				continue // reported above
			}
			if c.ConsumerSecret != k.secret {
				t.Errorf("key %s on %s has another secret", k.fingerprint(), app)
			}
			if c.Status != apigee.StatusApproved {
				t.Errorf("key %s on %s is %s", k.fingerprint(), app, c.Status)
			}
			var products []string
			for _, p := range c.Products {
				products = append(products, p.Name+"="+p.Status)
			}
			slices.Sort(products)
			var wantProducts []string
			for _, p := range k.products {
				wantProducts = append(wantProducts, p+"="+apigee.StatusApproved)
			}
			if !slices.Equal(products, wantProducts) {
				t.Errorf("key %s on %s has products %v, want %v", k.fingerprint(), app, products, wantProducts)
			}
		}
	}
}

// values finds the keys' and secrets' values in text: as they are,
// base64-encoded (Secret data in JSON), or any 16 characters of them (a
// hex dump of a protobuf body shows 16 bytes a line; the values are long
// enough that one such line lies wholly inside them, and their random part
// makes every 16 characters their own).
type values struct {
	windows map[string]string // 16 characters of a value → its key's fingerprint
	encoded map[string]string // a value base64-encoded → its key's fingerprint
}

func valuesOf(keys []keySpec) values {
	x := values{windows: map[string]string{}, encoded: map[string]string{}}
	for _, k := range keys {
		for _, v := range []string{k.key, k.secret} {
			for i := 0; i+16 <= len(v); i++ {
				x.windows[v[i:i+16]] = k.fingerprint()
			}
			x.encoded[base64.StdEncoding.EncodeToString([]byte(v))] = k.fingerprint()
			x.encoded[base64.RawURLEncoding.EncodeToString([]byte(v))] = k.fingerprint()
		}
	}
	return x
}

// find returns the fingerprints of the keys whose values appear in text.
func (x values) find(text string) []string {
	found := map[string]bool{}
	for i := 0; i+16 <= len(text); i++ {
		if fp, ok := x.windows[text[i:i+16]]; ok {
			found[fp] = true
		}
	}
	for v, fp := range x.encoded {
		if strings.Contains(text, v) {
			found[fp] = true
		}
	}
	out := slices.Sorted(maps.Keys(found))
	return out
}

// noneLeaked fails if a key or secret value appears in a replica's output.
func noneLeaked(t *testing.T, keys []keySpec, replicas ...*replica) {
	t.Helper()
	x := valuesOf(keys)
	for _, r := range replicas {
		out := r.out.String()
		// A line from each replica's start: its output was captured.
		if !strings.Contains(out, "Starting operator") {
			t.Errorf("replica %s never logged its start: its output was not captured", r.name)
		}
		for _, fp := range x.find(out) {
			t.Errorf("the value of key %s or of its secret appears in the output of replica %s", fp, r.name)
		}
	}
}

// handoverBound is the longest a standby may take to lead after the
// leader died without releasing the lease. The standby looks at the lease
// every retry period, jittered up to (1+JitterFactor) times that, and
// counts the lease duration from when it saw the last renewal (made at
// most a retry period before the kill, seen up to one jittered period
// later); it takes the lease at its first look after that. The margin is
// for a loaded CI machine.
const handoverMargin = 5 * time.Second

func handoverBound() time.Duration {
	jittered := time.Duration((1 + leaderelection.JitterFactor) * float64(retryPeriod))
	return leaseDuration + 2*jittered + handoverMargin
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	testenv.Eventually(t, timeout, what, cond)
}

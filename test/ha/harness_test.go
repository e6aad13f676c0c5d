// Package ha runs the operator as it runs in production with two replicas:
// two processes of the real binary, with leader election, against one
// envtest API server, and the Apigee emulator served by the test. It kills
// the leader mid-import and restarts the API server mid-import, then checks
// that nothing was imported twice, lost or deleted without being asked for.
package ha

import (
	"context"
	"errors"
	"fmt"
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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/leaderelection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

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

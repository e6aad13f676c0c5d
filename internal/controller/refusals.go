package controller

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// refusals remembers, per key, the last run that ended in a failure only a
// change can mend (a terminal condition) and the inputs it ran on. Events
// of one change can arrive apart (the key's creation and its Secret's, a
// connection's status), and a second pass on the same inputs would repeat
// a call Apigee refused: it gets the same answer without a call until the
// key's next resync slot, when the world outside (a product created, an
// app made) is looked at again.
type refusals struct {
	mu sync.Mutex
	m  map[types.NamespacedName]refusal
}

type refusal struct {
	inputs string
	err    error
	until  time.Time
}

func newRefusals() *refusals { return &refusals{m: map[types.NamespacedName]refusal{}} }

// runInputs is what a key's run depends on in the cluster: its spec and
// user annotations, its Secret and its connection.
func runInputs(k *apigeev1alpha1.DeveloperAppKey, conn *connection, creds keyCredentials) string {
	ann := userAnnotations(k)
	names := slices.Sorted(maps.Keys(ann))
	h := sha256.New()
	fmt.Fprintf(h, "%d|%s|%s|%s", k.Generation, creds.version, conn.object.GetUID(), conn.object.GetResourceVersion())
	for _, n := range names {
		fmt.Fprintf(h, "|%q=%q", n, ann[n])
	}
	// A digest: a tenant's annotations may be large, and only equality counts.
	return string(h.Sum(nil))
}

// repeat returns the remembered failure when the inputs are those it was
// refused on and its time has not run out.
func (f *refusals) repeat(key types.NamespacedName, inputs string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.m[key]
	if !ok || r.inputs != inputs || !now.Before(r.until) {
		return nil
	}
	return r.err
}

// remember keeps err for the inputs when only a change can mend it, and
// forgets any earlier refusal otherwise.
func (f *refusals) remember(key types.NamespacedName, inputs string, err error, until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err == nil {
		delete(f.m, key)
		return
	}
	var answer *apigee.Error
	if c := classify(err); c.retry || c.wait || !errors.As(err, &answer) {
		// Only Apigee's own refusals: a failure found in the cluster (a
		// conflict with another object) may be mended by an event that
		// changes none of this key's inputs.
		delete(f.m, key)
		return
	}
	f.m[key] = refusal{inputs: inputs, err: err, until: until}
}

func (f *refusals) forget(key types.NamespacedName) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.m, key)
}

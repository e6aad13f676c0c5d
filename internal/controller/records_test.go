package controller

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

func intentObject(uid, value string) *apigeev1alpha1.DeveloperAppKey {
	k := &apigeev1alpha1.DeveloperAppKey{}
	k.UID = types.UID("uid-" + uid)
	k.Annotations = map[string]string{apigeev1alpha1.ImportPendingAnnotation: value}
	return k
}

func TestSignedIntentRoundTrip(t *testing.T) {
	s := intentSigner{key: []byte("0123456789abcdef0123456789abcdef")}
	in := importIntent{Fingerprint: "sha256:0123", Location: here}
	k := intentObject("a", "")
	k.Annotations[apigeev1alpha1.ImportPendingAnnotation] = s.encode(k.UID, in)
	got := s.read(k)
	if got == nil || got.Fingerprint != in.Fingerprint || !sameLocation(got.Location, in.Location) {
		t.Fatalf("read = %+v, want %+v", got, in)
	}
}

func TestUnprovenIntentsAreIgnored(t *testing.T) {
	s := intentSigner{key: []byte("0123456789abcdef0123456789abcdef")}
	other := intentSigner{key: []byte("fedcba9876543210fedcba9876543210")}
	in := importIntent{Fingerprint: "sha256:0123", Location: here}
	signedForA := s.encode("uid-a", in)
	unsigned, _ := json.Marshal(in) // what a release before signing wrote, or a tenant
	moved := in
	moved.Location.App = "payments-app"
	var tampered importIntent
	_ = json.Unmarshal([]byte(signedForA), &tampered)
	tampered.Location = moved.Location
	tamperedValue, _ := json.Marshal(tampered)

	for name, k := range map[string]*apigeev1alpha1.DeveloperAppKey{
		"not json":                       intentObject("a", "not json"),
		"unsigned":                       intentObject("a", string(unsigned)),
		"signed for another object":      intentObject("b", signedForA),
		"signed with another key":        intentObject("a", other.encode("uid-a", in)),
		"location changed after signing": intentObject("a", string(tamperedValue)),
	} {
		if got := s.read(k); got != nil {
			t.Errorf("%s: an intent the operator cannot prove it wrote was read: %+v", name, got)
		}
	}
	if s.read(intentObject("a", signedForA)) == nil {
		t.Fatal("the genuine intent was not read")
	}
}

func TestSigningKeyIsKeptInTheRecordsSecret(t *testing.T) {
	ctx := context.Background()
	name := types.NamespacedName{Namespace: "operator", Name: "records"}
	c := fake.NewClientBuilder().Build()
	first, err := loadSigningKey(ctx, c, c, name)
	if err != nil || len(first) != recordsKeySize {
		t.Fatalf("first start: %d bytes, %v", len(first), err)
	}
	again, err := loadSigningKey(ctx, c, c, name)
	if err != nil || !bytes.Equal(first, again) {
		t.Fatalf("a restart must read the same key: %v", err)
	}
	s := &corev1.Secret{}
	if err := c.Get(ctx, name, s); err != nil || s.Labels["app.kubernetes.io/managed-by"] != "apigee-key-operator" {
		t.Fatalf("records Secret %+v, %v", s.ObjectMeta, err)
	}
}

func TestSigningKeyRaceReadsTheWinner(t *testing.T) {
	ctx := context.Background()
	name := types.NamespacedName{Namespace: "operator", Name: "records"}
	winner := bytes.Repeat([]byte{7}, recordsKeySize)
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			// Another replica creates it first.
			other := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
				Data: map[string][]byte{recordsKeyField: winner}}
			if err := c.Create(ctx, other); err != nil {
				return err
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	got, err := loadSigningKey(ctx, c, c, name)
	if err != nil || !bytes.Equal(got, winner) {
		t.Fatalf("racing replicas must share the winner's key: %v", err)
	}
}

func TestSigningKeyTooShortIsRefused(t *testing.T) {
	name := types.NamespacedName{Namespace: "operator", Name: "records"}
	c := fake.NewClientBuilder().WithObjects(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name},
		Data: map[string][]byte{recordsKeyField: []byte("short")}}).Build()
	if _, err := loadSigningKey(context.Background(), c, c, name); err == nil || !strings.Contains(err.Error(), "at least 32 bytes") {
		t.Fatalf("a short key must be refused with a reason, got %v", err)
	}
}

func TestSigningKeyWithoutSecretIsPerProcess(t *testing.T) {
	a, errA := loadSigningKey(context.Background(), nil, nil, types.NamespacedName{})
	b, errB := loadSigningKey(context.Background(), nil, nil, types.NamespacedName{})
	if errA != nil || errB != nil || len(a) != recordsKeySize || bytes.Equal(a, b) {
		t.Fatalf("without a Secret each process draws its own key: %v %v", errA, errB)
	}
}

func TestIntentProvesCreationOnlyForKeysIssuedAfterIt(t *testing.T) {
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	in := &importIntent{Fingerprint: "sha256:1", At: at.UnixMilli()}
	for _, c := range []struct {
		reason string
		issued time.Time
		want   bool
	}{
		{"issued after the intent: this import made it", at.Add(time.Second), true},
		{"issued a little before, within clock skew", at.Add(-intentClockSkew / 2), true},
		{"issued well before: it was there already (a 409)", at.Add(-time.Hour), false},
		{"no issue time proves nothing", time.Time{}, false},
	} {
		if got := in.created(&apigee.Credential{IssuedAt: c.issued}); got != c.want {
			t.Errorf("%s: created = %v", c.reason, got)
		}
	}
	if (&importIntent{Fingerprint: "sha256:1"}).created(&apigee.Credential{IssuedAt: at}) {
		t.Error("an intent without a write time proves nothing")
	}
}

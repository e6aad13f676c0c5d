package controller

import (
	"context"
	"crypto/rand"
	"fmt"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// keyCredentials are the values to import. Never log or print them.
type keyCredentials struct {
	key, secret string
	// generated: the Secret is controlled by the key (the operator made
	// it), so the operator may renew its values.
	generated bool
	// version is the Secret's resourceVersion.
	version string
	// serving is the consumer key the Secret's own fields still hold while
	// a renewal is staged (key and secret are then the staged values): it
	// keeps working until the Secret switches to the new key.
	serving string
}

// stagedField is where a renewal stages a new value before it takes
// field's place: the fields workloads read keep the working key until
// Apigee has the new one ready.
func stagedField(field string) string { return field + ".next" }

// stagedCredentials are the values a renewal staged in the Secret; ok is
// false when none are staged.
func stagedCredentials(s *corev1.Secret, src *apigeev1alpha1.CredentialsSource) (keyCredentials, bool, error) {
	if _, ok := s.Data[stagedField(src.KeyField())]; !ok {
		return keyCredentials{}, false, nil
	}
	key, err := credentialValue(s, stagedField(src.KeyField()), "staged consumer key")
	if err != nil {
		return keyCredentials{}, true, err
	}
	secret, err := credentialValue(s, stagedField(src.SecretField()), "staged consumer secret")
	return keyCredentials{key: key, secret: secret}, true, err
}

// readCredentials reads the key's Secret through the API reader (Secret
// data is never cached) and validates its values. With generate set and no
// Secret, it restores or creates one first.
func (r *DeveloperAppKeyReconciler) readCredentials(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, c apigee.Client, loc apigeev1alpha1.KeyLocation) (keyCredentials, error) {
	ctx = withoutBodyLogs(ctx)
	s := &corev1.Secret{}
	name := types.NamespacedName{Namespace: k.Namespace, Name: k.Spec.Credentials.SecretRef.Name}
	err := r.apiReader.Get(ctx, name, s)
	if apierrors.IsNotFound(err) && k.Spec.Credentials.Generate {
		s, err = r.restoreOrGenerateSecret(ctx, k, c, loc)
	}
	if apierrors.IsNotFound(err) {
		return keyCredentials{}, terminal(apigeev1alpha1.ReasonSecretNotFound,
			fmt.Sprintf("Secret %q not found: create it with fields %q and %q, or set credentials.generate: true",
				name.Name, k.Spec.Credentials.KeyField(), k.Spec.Credentials.SecretField()))
	}
	if err != nil {
		return keyCredentials{}, err
	}
	creds, err := credentialsFrom(s, &k.Spec.Credentials)
	if err != nil {
		return creds, err
	}
	creds.generated = k.Spec.Credentials.Generate && metav1.IsControlledBy(s, k)
	creds.version = s.ResourceVersion
	if !creds.generated {
		return creds, nil // a Secret the user supplies has no staged values
	}
	staged, ok, err := stagedCredentials(s, &k.Spec.Credentials)
	if !ok || err != nil {
		return creds, err
	}
	staged.generated, staged.version, staged.serving = true, creds.version, creds.key
	return staged, nil
}

// restoreOrGenerateSecret recreates a missing generated Secret. Once a key
// is recorded, its values live only in Apigee: the Secret is restored from
// a fresh read of the app, so the working key stays. Only when no key is
// recorded, or Apigee no longer has it, are new values generated.
func (r *DeveloperAppKeyReconciler) restoreOrGenerateSecret(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, c apigee.Client, loc apigeev1alpha1.KeyLocation) (*corev1.Secret, error) {
	fp := k.Status.ConsumerKeyFingerprint
	if fp == "" {
		return r.createSecret(ctx, k, keyCredentials{key: randomCredential(32), secret: randomCredential(64)}, "SecretGenerated",
			"Created Secret %q with a random consumer key and secret")
	}
	app, err := r.freshApp(ctx, c, loc)
	if err != nil {
		return nil, err
	}
	if app == nil {
		return nil, terminal(apigeev1alpha1.ReasonAppNotFound, "the app holding the recorded key is gone and the Secret with it; "+
			"nothing was generated: check the app in Apigee")
	}
	rec, _ := recordedLocation(k, loc)
	if err := sameDeveloperID(rec, app); err != nil {
		return nil, err
	}
	if cred := credentialByFingerprint(app, fp); cred != nil {
		return r.createSecret(ctx, k, keyCredentials{key: cred.ConsumerKey, secret: cred.ConsumerSecret}, "SecretRestored",
			"Restored Secret %q from Apigee's copy of the managed key "+fp)
	}
	return r.createSecret(ctx, k, keyCredentials{key: randomCredential(32), secret: randomCredential(64)}, "SecretGenerated",
		"Created Secret %q with a new random key: the recorded key "+fp+" is no longer in Apigee")
}

// createSecret creates the credentials Secret, owned by the key. An
// existing Secret is never overwritten: AlreadyExists means someone else
// made it, so it is read instead. note names the Secret with %q.
func (r *DeveloperAppKeyReconciler) createSecret(ctx context.Context, k *apigeev1alpha1.DeveloperAppKey, creds keyCredentials, reason, note string) (*corev1.Secret, error) {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: k.Namespace, Name: k.Spec.Credentials.SecretRef.Name},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			k.Spec.Credentials.KeyField():    []byte(creds.key),
			k.Spec.Credentials.SecretField(): []byte(creds.secret),
		},
	}
	if err := controllerutil.SetControllerReference(k, s, r.client.Scheme()); err != nil {
		return nil, err
	}
	err := r.client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		existing := &corev1.Secret{}
		return existing, r.apiReader.Get(ctx, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, existing)
	}
	if err == nil {
		r.event(k, corev1.EventTypeNormal, reason, "GenerateSecret", fmt.Sprintf(note, s.Name))
	}
	return s, err
}

// withoutBodyLogs returns ctx with a logger that drops everything, for
// Kubernetes calls that read or write Secret data: client-go logs request
// and response bodies at V(8) through the context's logger, and a Secret's
// body holds the values that must never be logged, at any verbosity.
func withoutBodyLogs(ctx context.Context) context.Context {
	return logr.NewContext(ctx, logr.Discard())
}

// credentialsFrom checks the Secret's values against Apigee's rules. The
// messages name the field and the rule, never the value.
func credentialsFrom(s *corev1.Secret, src *apigeev1alpha1.CredentialsSource) (keyCredentials, error) {
	key, err := credentialValue(s, src.KeyField(), "consumer key")
	if err != nil {
		return keyCredentials{}, err
	}
	secret, err := credentialValue(s, src.SecretField(), "consumer secret")
	if err != nil {
		return keyCredentials{}, err
	}
	return keyCredentials{key: key, secret: secret}, nil
}

func credentialValue(s *corev1.Secret, field, what string) (string, error) {
	raw, ok := s.Data[field]
	invalid := func(problem string) error {
		return terminal(apigeev1alpha1.ReasonInvalidCredentials,
			fmt.Sprintf("Secret %q field %q (the %s) %s", s.Name, field, what, problem))
	}
	switch {
	case !ok:
		return "", invalid("is missing")
	case len(raw) == 0:
		return "", invalid("is empty")
	case len(raw) > apigee.MaxKeyBytes:
		return "", invalid(fmt.Sprintf("is %d bytes; Apigee allows at most %d", len(raw), apigee.MaxKeyBytes))
	}
	for _, b := range raw {
		if !apigee.ValidKeyByte(b) {
			return "", invalid("has characters Apigee rejects: use only letters, digits, '_' and '-'")
		}
	}
	return string(raw), nil
}

// randomCredential returns n random letters and digits, which Apigee
// accepts as a key or secret.
func randomCredential(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	return randomFrom(alphabet, n)
}

func randomFrom(alphabet string, n int) string {
	out := make([]byte, n)
	buf := make([]byte, n)
	if _, err := rand.Read(buf); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i, b := range buf {
		// 62 symbols: rejecting nothing gives a slight bias that does not
		// matter for 190+ bits of entropy.
		out[i] = alphabet[int(b)%len(alphabet)]
	}
	return string(out)
}

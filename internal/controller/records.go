package controller

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
)

// recordsKeyField is the data field of the records Secret that holds the
// key the operator signs its import intents with.
const recordsKeyField = "intent-key"

// recordsKeySize is the length of a signing key the operator makes.
const recordsKeySize = 32

// intentSigner signs the import intents the operator writes. Annotations
// are anyone's to write who can edit the object, so an intent steers a
// delete only when its MAC, over the object's UID and the intent, proves
// the operator wrote it for this very object.
type intentSigner struct{ key []byte }

// mac is the intent's signature, bound to the object's UID so that an
// intent copied from another object proves nothing.
func (s intentSigner) mac(uid types.UID, in importIntent) string {
	in.MAC = ""
	body, _ := json.Marshal(in)
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(uid))
	h.Write([]byte{0})
	h.Write(body)
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// encode is the annotation value of a signed intent.
func (s intentSigner) encode(uid types.UID, in importIntent) string {
	in.MAC = s.mac(uid, in)
	b, _ := json.Marshal(in)
	return string(b)
}

// read returns the object's import intent when the operator wrote it; nil
// when absent, unreadable, unsigned (a release before signing, or a
// tenant's hand) or signed for another object or content.
func (s intentSigner) read(k *apigeev1alpha1.DeveloperAppKey) *importIntent {
	raw, ok := k.Annotations[apigeev1alpha1.ImportPendingAnnotation]
	if !ok {
		return nil
	}
	var in importIntent
	if err := json.Unmarshal([]byte(raw), &in); err != nil || in.Fingerprint == "" || in.MAC == "" {
		return nil
	}
	if !hmac.Equal([]byte(in.MAC), []byte(s.mac(k.UID, in))) {
		return nil
	}
	return &in
}

// loadSigningKey reads the signing key from the records Secret, creating
// it with a random key on first start (replicas racing to create it read
// the winner's). With no Secret named, the key lives in this process only:
// intents written before a restart are then ignored, never trusted.
func loadSigningKey(ctx context.Context, c client.Client, reader client.Reader, name types.NamespacedName) ([]byte, error) {
	if name.Name == "" {
		return randomKey()
	}
	for range 2 {
		key, err := readSigningKey(ctx, reader, name)
		if !apierrors.IsNotFound(err) {
			return key, err
		}
		if err := createSigningKey(ctx, c, name); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating the records Secret %s: %w", name, err)
		}
	}
	return readSigningKey(ctx, reader, name)
}

func readSigningKey(ctx context.Context, reader client.Reader, name types.NamespacedName) ([]byte, error) {
	s := &corev1.Secret{}
	if err := reader.Get(withoutBodyLogs(ctx), name, s); err != nil {
		return nil, err
	}
	key := s.Data[recordsKeyField]
	if len(key) < recordsKeySize {
		return nil, fmt.Errorf("the records Secret %s has no %q of at least %d bytes", name, recordsKeyField, recordsKeySize)
	}
	return key, nil
}

func createSigningKey(ctx context.Context, c client.Client, name types.NamespacedName) error {
	key, err := randomKey()
	if err != nil {
		return err
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: name.Namespace, Name: name.Name,
			Labels: map[string]string{"app.kubernetes.io/managed-by": "apigee-key-operator"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{recordsKeyField: key},
	}
	return c.Create(withoutBodyLogs(ctx), s)
}

func randomKey() ([]byte, error) {
	key := make([]byte, recordsKeySize)
	_, err := rand.Read(key)
	return key, err
}

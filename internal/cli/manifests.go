package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Labels on everything export writes, so the Secrets can be found.
const (
	LabelExported = "apigee.keyoperator.io/exported-by"
	LabelKey      = "apigee.keyoperator.io/developer-app-key"
	exporterName  = "kubectl-apigee_keys"
)

// Secret data keys: the operator's defaults, so manifests need not say.
const (
	fieldKey    = "consumerKey"
	fieldSecret = "consumerSecret"
)

// target says where the manifests point: namespace and connection.
type target struct {
	namespace      string
	connectionKind string
	connectionName string
	deletionPolicy apigeev1alpha1.DeletionPolicy
}

// objectName is "<app>-<fingerprint prefix>": readable, unique per key
// (two developers may have apps of the same name), and a DNS label.
func objectName(k Key) string {
	app := strings.Trim(invalidName.ReplaceAllString(strings.ToLower(k.App), "-"), "-")
	if len(app) > 40 {
		app = strings.TrimRight(app[:40], "-")
	}
	sum := sha256.Sum256([]byte(k.ConsumerKey))
	fp := hex.EncodeToString(sum[:5])
	if app == "" {
		return "key-" + fp
	}
	return app + "-" + fp
}

var invalidName = regexp.MustCompile(`[^a-z0-9-]+`)

// manifest is the DeveloperAppKey for k. Pending products become Revoked:
// a pending product gives no access, and Approved would grant it.
func manifest(k Key, t target, now time.Time) *apigeev1alpha1.DeveloperAppKey {
	name := objectName(k)
	d := &apigeev1alpha1.DeveloperAppKey{
		TypeMeta:   metav1.TypeMeta{APIVersion: apigeev1alpha1.GroupVersion.String(), Kind: "DeveloperAppKey"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.namespace, Labels: map[string]string{LabelExported: exporterName}},
		Spec: apigeev1alpha1.DeveloperAppKeySpec{
			ConnectionRef:  apigeev1alpha1.ConnectionReference{Kind: t.connectionKind, Name: t.connectionName},
			Developer:      k.Developer,
			App:            k.App,
			Credentials:    apigeev1alpha1.CredentialsSource{SecretRef: apigeev1alpha1.LocalSecretReference{Name: name}},
			Status:         approval(k.Status),
			Scopes:         slices.Clone(k.Scopes),
			DeletionPolicy: t.deletionPolicy,
		},
	}
	for _, p := range k.Products {
		d.Spec.APIProducts = append(d.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: p.Name, Status: approval(p.Status)})
	}
	for _, a := range k.Attributes {
		d.Spec.Attributes = append(d.Spec.Attributes, apigeev1alpha1.Attribute{Name: a.Name, Value: a.Value})
	}
	if secs, ok := remainingSeconds(k, now); ok {
		d.Spec.ExpiresInSeconds = &secs
	}
	return d
}

func approval(status string) apigeev1alpha1.ApprovalStatus {
	if status == apigee.StatusApproved {
		return apigeev1alpha1.Approved
	}
	return apigeev1alpha1.Revoked
}

// remainingSeconds is an expiring key's remaining lifetime, rounded up, so
// a key imported elsewhere expires no earlier than the original.
func remainingSeconds(k Key, now time.Time) (int64, bool) {
	if k.ExpiresAt.IsZero() {
		return 0, false
	}
	return int64(math.Ceil(k.ExpiresAt.Sub(now).Seconds())), true
}

// secret is the Secret holding k's values, named like its manifest.
func secret(k Key, namespace string) *corev1.Secret {
	name := objectName(k)
	return &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace,
			Labels: map[string]string{LabelExported: exporterName, LabelKey: name}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{fieldKey: []byte(k.ConsumerKey), fieldSecret: []byte(k.ConsumerSecret)},
	}
}

// toYAML renders an object without the empty status and timestamps a
// typed object would carry.
func toYAML(obj runtime.Object) ([]byte, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	delete(m, "status")
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "creationTimestamp")
	}
	// An unset rotation would render as gracePeriod 0s, overriding the
	// CRD's default with "no grace": leave it out.
	if spec, ok := m["spec"].(map[string]any); ok {
		if r, ok := spec["rotation"].(map[string]any); ok && len(r) == 1 && r["gracePeriod"] == "0s" {
			delete(spec, "rotation")
		}
	}
	return yaml.Marshal(m)
}

// writeFile writes data with mode, replacing the file atomically so a
// failed export leaves no half-written manifest or Secret.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// kustomization lists the files of a directory for kustomize and Argo CD.
func kustomization(files []string, namespace string) []byte {
	slices.Sort(files)
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	fmt.Fprintf(&b, "namespace: %s\nresources:\n", namespace)
	for _, f := range files {
		fmt.Fprintf(&b, "  - %s\n", f)
	}
	return []byte(b.String())
}

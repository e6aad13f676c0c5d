package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// storeSecrets puts each key's values where the user said: the cluster or
// a directory of 0600 files. It returns where, for the summary.
func (o *exportOptions) storeSecrets(ctx context.Context, env *Env, keys []Key, namespace string) (string, error) {
	if o.applySecrets {
		created, err := applySecrets(ctx, env, keys, namespace, env.progress())
		return fmt.Sprintf("in namespace %s (%d created, %d already there)", namespace, created, len(keys)-created), err
	}
	return "in " + o.secretsDir + " (mode 0600)", writeSecrets(o.secretsDir, keys, namespace, env.progress())
}

// writeSecrets writes one Secret manifest per key, readable only by the
// user, in a directory only the user can list.
func writeSecrets(dir string, keys []Key, namespace string, p *progress) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("--secrets-dir: %w", unwrapPathError(err))
	}
	defer p.done()
	for i, k := range keys {
		p.count("Secret files written", i+1, len(keys))
		s := secret(k, namespace)
		b, err := toYAML(s)
		if err != nil {
			return fmt.Errorf("rendering Secret %s: cannot encode it", s.Name)
		}
		if err := writeFile(filepath.Join(dir, s.Name+".yaml"), b, 0o600); err != nil {
			return fmt.Errorf("writing Secret %s: %w", s.Name, unwrapPathError(err))
		}
	}
	return nil
}

// applySecrets creates the Secrets; one that exists with the same values
// is fine (a re-run), with other values it is left alone and reported.
func applySecrets(ctx context.Context, env *Env, keys []Key, namespace string, p *progress) (created int, err error) {
	kc, err := env.kube()
	if err != nil {
		return 0, err
	}
	defer p.done()
	for i, k := range keys {
		p.count("Secrets applied", i, len(keys))
		s := secret(k, namespace)
		err := kc.client.Create(ctx, s)
		switch {
		case err == nil:
			created++
		case apierrors.IsAlreadyExists(err):
			if err := sameSecret(ctx, kc.client, s); err != nil {
				return created, err
			}
		default:
			return created, fmt.Errorf("creating Secret %s/%s: %s", namespace, s.Name, apierrors.ReasonForError(err))
		}
	}
	p.count("Secrets applied", len(keys), len(keys))
	return created, nil
}

func sameSecret(ctx context.Context, c client.Client, want *corev1.Secret) error {
	var have corev1.Secret
	if err := c.Get(ctx, client.ObjectKeyFromObject(want), &have); err != nil {
		return fmt.Errorf("reading Secret %s/%s: %s", want.Namespace, want.Name, apierrors.ReasonForError(err))
	}
	for _, f := range []string{fieldKey, fieldSecret} {
		if !bytes.Equal(have.Data[f], want.Data[f]) {
			return fmt.Errorf("Secret %s/%s exists with other values; it was not changed: delete it or choose another namespace", want.Namespace, want.Name)
		}
	}
	return nil
}

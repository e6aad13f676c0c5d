package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// Plan results, one per key.
const (
	ResultReady            = "ready"
	ResultAdopt            = "would adopt"
	ResultMissingDeveloper = "missing developer"
	ResultMissingApp       = "missing app"
	ResultMissingProduct   = "missing product"
	ResultConflict         = "conflict"
	ResultNoSecret         = "no secret"
)

type planOptions struct {
	target     connFlags
	from       string
	secretsDir string
	output     string
}

func newPlanCommand(env *Env) *cobra.Command {
	o := &planOptions{}
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Check exported manifests against the target organization before applying them",
		Long: `For every DeveloperAppKey manifest in --from, check the target organization: the
developer, the app and the products exist, and the consumer key is free (ready: the
operator will import it) or already on that app with the same secret (would adopt).
A key held by another app or with another secret is a conflict.

The key and secret come from --secrets-dir, or from the Secrets in the cluster. plan
only reads: it lists developers, products and apps (a few calls per thousand) and
shows how many calls it made. It exits 1 when any key would fail.`,
		Example: `  # Check an Edge export against the X organization of connection x-prod
  kubectl apigee-keys plan --from keys/ --secrets-dir secrets/ --connection x-prod -n team-a

  # Machine-readable
  kubectl apigee-keys plan --from keys/ --connection prod -n team-a --output json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runPlan(cmd.Context(), env, o) },
	}
	fs := cmd.Flags()
	o.target.register(fs)
	fs.StringVar(&o.from, "from", "", "directory of DeveloperAppKey manifests, as export writes it (required)")
	fs.StringVar(&o.secretsDir, "secrets-dir", "", "directory of the Secret manifests; default: the Secrets in the cluster")
	fs.StringVarP(&o.output, "output", "o", "table", "table or json")
	return cmd
}

// planRow is the verdict on one key. It names the key by fingerprint.
type planRow struct {
	Name        string `json:"name"`
	Developer   string `json:"developer"`
	App         string `json:"app"`
	Fingerprint string `json:"keyFingerprint"`
	Result      string `json:"result"`
	Detail      string `json:"detail,omitempty"`
}

func (r planRow) fails() bool { return r.Result != ResultReady && r.Result != ResultAdopt }

func runPlan(ctx context.Context, env *Env, o *planOptions) error {
	if o.from == "" {
		return errors.New("--from is required: the directory export wrote")
	}
	if o.output != "table" && o.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", o.output)
	}
	keys, err := readManifests(o.from)
	if err != nil {
		return err
	}
	values, err := o.secretValues(ctx, env, keys)
	if err != nil {
		return err
	}
	ns, err := env.targetNamespace(o.target.connection != "" || o.target.clusterConnection != "")
	if err != nil {
		return err
	}
	tgt, err := env.open(ctx, o.target, ns)
	if err != nil {
		return err
	}
	idx, err := indexOrganization(ctx, tgt, env.progress())
	if err != nil {
		return err
	}
	holders := clusterHolders(ctx, env, tgt.organization)
	rows := make([]planRow, 0, len(keys))
	for _, k := range keys {
		rows = append(rows, heldElsewhere(idx.check(k, values[k.Name]), holders, ns+"/"+k.Name))
	}
	return printPlan(env, o.output, rows, tgt)
}

// clusterHolders maps each fingerprint a DeveloperAppKey in the cluster
// records in the organization to that object's namespace/name. Without
// permission to list them, it says so and returns none.
func clusterHolders(ctx context.Context, env *Env, organization string) map[string]string {
	kc, err := env.kube()
	if err != nil {
		return nil
	}
	var list apigeev1alpha1.DeveloperAppKeyList
	if err := kc.client.List(ctx, &list); err != nil {
		fmt.Fprintln(env.Err, "Note: cannot list DeveloperAppKeys (permissions?); keys already managed in the cluster are not checked.")
		return nil
	}
	out := map[string]string{}
	for _, k := range list.Items {
		org := k.Status.Organization
		if k.Status.Location != nil {
			org = k.Status.Location.Organization
		}
		if org != organization {
			continue
		}
		for _, p := range k.Status.PreviousKeys {
			out[p.Fingerprint] = k.Namespace + "/" + k.Name
		}
		if fp := k.Status.ConsumerKeyFingerprint; fp != "" {
			out[fp] = k.Namespace + "/" + k.Name
		}
	}
	return out
}

// heldElsewhere turns a key another DeveloperAppKey already manages into
// a conflict: the operator would give the new object KeyConflict. The
// manifest's own object, applied before, is no conflict.
func heldElsewhere(row planRow, holders map[string]string, self string) planRow {
	holder, ok := holders[row.Fingerprint]
	if !ok || holder == self || (row.Result != ResultReady && row.Result != ResultAdopt) {
		return row
	}
	row.Result, row.Detail = ResultConflict, "already managed by DeveloperAppKey "+holder
	return row
}

// readManifests reads every DeveloperAppKey in dir (kustomization.yaml and
// other kinds are skipped).
func readManifests(dir string) ([]*apigeev1alpha1.DeveloperAppKey, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("--from %s: no manifests found", dir)
	}
	slices.Sort(files)
	var out []*apigeev1alpha1.DeveloperAppKey
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", f, unwrapPathError(err))
		}
		var k apigeev1alpha1.DeveloperAppKey
		if err := yaml.Unmarshal(b, &k); err != nil {
			return nil, fmt.Errorf("%s: not a readable manifest", f)
		}
		if k.Kind == "DeveloperAppKey" {
			out = append(out, &k)
		}
	}
	return out, nil
}

// secretValue is a key's consumer key and secret.
type secretValue struct{ key, secret string }

// secretValues reads each manifest's Secret from --secrets-dir or the
// cluster; a missing one leaves the key without values (ResultNoSecret).
func (o *planOptions) secretValues(ctx context.Context, env *Env, keys []*apigeev1alpha1.DeveloperAppKey) (map[string]secretValue, error) {
	out := map[string]secretValue{}
	p := env.progress()
	defer p.done()
	for i, k := range keys {
		if o.secretsDir == "" {
			p.count("Secrets read", i+1, len(keys))
		}
		s, err := o.readSecret(ctx, env, k)
		if err != nil {
			return nil, err
		}
		if s == nil {
			continue
		}
		kf, sf := fields(k)
		out[k.Name] = secretValue{key: secretField(s, kf), secret: secretField(s, sf)}
	}
	return out, nil
}

func (o *planOptions) readSecret(ctx context.Context, env *Env, k *apigeev1alpha1.DeveloperAppKey) (*corev1.Secret, error) {
	name := k.Spec.Credentials.SecretRef.Name
	if o.secretsDir != "" {
		b, err := os.ReadFile(filepath.Join(o.secretsDir, name+".yaml"))
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		var s corev1.Secret
		if err == nil {
			err = yaml.Unmarshal(b, &s)
		}
		if err != nil {
			return nil, fmt.Errorf("Secret %s in %s: not readable", name, o.secretsDir)
		}
		return &s, nil
	}
	kc, err := env.kube()
	if err != nil {
		return nil, err
	}
	var s corev1.Secret
	err = kc.client.Get(ctx, types.NamespacedName{Namespace: cmpNamespace(k.Namespace, kc.namespace), Name: name}, &s)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading Secret %s: %s", name, apierrors.ReasonForError(err))
	}
	return &s, nil
}

func cmpNamespace(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func fields(k *apigeev1alpha1.DeveloperAppKey) (string, string) {
	kf, sf := k.Spec.Credentials.ConsumerKeyField, k.Spec.Credentials.ConsumerSecretField
	if kf == "" {
		kf = fieldKey
	}
	if sf == "" {
		sf = fieldSecret
	}
	return kf, sf
}

func secretField(s *corev1.Secret, f string) string {
	if v, ok := s.Data[f]; ok {
		return string(v)
	}
	return s.StringData[f]
}

// orgIndex is the target organization as three list calls see it.
type orgIndex struct {
	developers map[string]string // lower-case email and id -> email
	products   map[string]bool
	apps       map[string]*apigee.ListedApp // developer email (lower) + "/" + app
	keys       map[string]heldKey           // consumer key -> where it is
}

// heldKey is a key found in the organization: its app and its secret.
type heldKey struct{ appID, secret string }

// indexOrganization reads the target's developers, products and apps
// (with their credentials) in pages: reads only.
func indexOrganization(ctx context.Context, o *org, p *progress) (*orgIndex, error) {
	defer p.done()
	idx := &orgIndex{developers: map[string]string{}, products: map[string]bool{},
		apps: map[string]*apigee.ListedApp{}, keys: map[string]heldKey{}}
	ids := map[string]string{}
	err := apigee.EachDeveloper(ctx, o.lister, apigee.MaxPageSize, func(page []apigee.Developer) error {
		for _, d := range page {
			idx.developers[strings.ToLower(d.Email)], idx.developers[d.ID], ids[d.ID] = d.Email, d.Email, d.Email
		}
		p.update("Reading %s: %d developers", o.name, len(ids))
		return nil
	})
	if err != nil {
		return nil, o.explain("listing the developers of", err)
	}
	err = apigee.EachProduct(ctx, o.lister, apigee.MaxPageSize, func(page []apigee.Product) error {
		for _, pr := range page {
			idx.products[pr.Name] = true
		}
		return nil
	})
	if err != nil {
		return nil, o.explain("listing the products of", err)
	}
	err = apigee.EachApp(ctx, o.lister, apigee.MaxPageSize, func(page []apigee.ListedApp) error {
		for i := range page {
			idx.addApp(&page[i], ids)
		}
		p.update("Reading %s: %d developers, %d products, %d apps, %d keys", o.name, len(ids), len(idx.products), len(idx.apps), len(idx.keys))
		return nil
	})
	if err != nil {
		return nil, o.explain("listing the apps of", err)
	}
	return idx, nil
}

func (idx *orgIndex) addApp(a *apigee.ListedApp, ids map[string]string) {
	email := a.DeveloperEmail
	if email == "" {
		email = ids[a.DeveloperID]
	}
	if email != "" {
		idx.apps[strings.ToLower(email)+"/"+a.Name] = a
	}
	for _, c := range a.Credentials {
		idx.keys[c.ConsumerKey] = heldKey{appID: a.AppID, secret: c.ConsumerSecret}
	}
}

// check decides one key's result.
func (idx *orgIndex) check(k *apigeev1alpha1.DeveloperAppKey, v secretValue) planRow {
	row := planRow{Name: k.Name, Developer: k.Spec.Developer, App: k.Spec.App, Fingerprint: "-"}
	if v.key == "" || v.secret == "" {
		row.Result, row.Detail = ResultNoSecret, "Secret "+k.Spec.Credentials.SecretRef.Name+" not found or incomplete"
		return row
	}
	row.Fingerprint = apigee.Fingerprint(v.key)
	// Everything missing is named at once, so one round of fixes does.
	var missing []string
	email, devOK := idx.developers[strings.ToLower(k.Spec.Developer)]
	app, appOK := idx.apps[strings.ToLower(email)+"/"+k.Spec.App]
	if !devOK {
		missing = append(missing, "developer "+k.Spec.Developer)
	}
	if !appOK {
		missing = append(missing, "app "+k.Spec.App)
	}
	products := idx.missingProducts(k)
	for _, p := range products {
		missing = append(missing, "product "+p)
	}
	switch {
	case !devOK:
		row.Result = ResultMissingDeveloper
	case !appOK:
		row.Result = ResultMissingApp
	case len(products) > 0:
		row.Result = ResultMissingProduct
	}
	if len(missing) > 0 {
		row.Detail = "create " + strings.Join(missing, ", ")
		return row
	}
	held, found := idx.keys[v.key]
	row.Result, row.Detail = keyResult(app, held, found, v)
	if app.Status == apigee.StatusRevoked && !row.fails() {
		row.Detail = strings.TrimPrefix(row.Detail+"; the app is revoked in Apigee: the key will report AppRevoked", "; ")
	}
	return row
}

func (idx *orgIndex) missingProducts(k *apigeev1alpha1.DeveloperAppKey) []string {
	var out []string
	for _, p := range k.Spec.APIProducts {
		if !idx.products[p.Name] {
			out = append(out, p.Name)
		}
	}
	return out
}

// keyResult: free → ready; on this app with this secret → adopt; on
// another app or with another secret → conflict (the operator would stop
// with KeyConflict, never take it).
func keyResult(app *apigee.ListedApp, held heldKey, found bool, v secretValue) (string, string) {
	switch {
	case !found:
		return ResultReady, "will import"
	case held.appID != app.AppID:
		return ResultConflict, "the consumer key belongs to another app"
	case held.secret != v.secret:
		return ResultConflict, "the consumer key is on the app with another secret"
	}
	return ResultAdopt, ""
}

// printPlan prints the table or JSON and fails when any key would.
func printPlan(env *Env, output string, rows []planRow, tgt *org) error {
	counts := map[string]int{}
	failed := 0
	for _, r := range rows {
		counts[r.Result]++
		if r.fails() {
			failed++
		}
	}
	if output == "json" {
		enc := json.NewEncoder(env.Out)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"keys": rows, "summary": counts, "failed": failed, "apigeeCalls": tgt.calls.Total()})
	} else {
		tw := newTable(env.Out, "NAME", "DEVELOPER", "APP", "KEY", "RESULT", "DETAIL")
		for _, r := range rows {
			tw.row(r.Name, r.Developer, r.App, r.Fingerprint, r.Result, r.Detail)
		}
		tw.flush()
		fmt.Fprintf(env.Out, "\n%d keys: %s. Read %s with %s; nothing was changed.\n", len(rows), summary(counts), tgt.name, tgt.calls)
	}
	if failed > 0 {
		fmt.Fprintf(env.Err, "%d of %d keys would fail: fix them before applying.\n", failed, len(rows))
		return exitError{code: 1}
	}
	return nil
}

func summary(counts map[string]int) string {
	order := []string{ResultReady, ResultAdopt, ResultMissingDeveloper, ResultMissingApp, ResultMissingProduct, ResultConflict, ResultNoSecret}
	var parts []string
	for _, r := range order {
		if counts[r] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", counts[r], r))
		}
	}
	return strings.Join(parts, ", ")
}

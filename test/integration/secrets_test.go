package integration

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee/emulator"
)

// Every sentinel value starts with this; nothing else in the tests does.
const sentinel = "SENTINEL"

// TestSecretsNeverLeak runs sentinel keys and secrets through import,
// conflicts, a rejected value, an Apigee error, a new secret and
// deletion, then looks for them in every log line (most verbose level),
// Event, status and metric.
func TestSecretsNeverLeak(t *testing.T) {
	a, ns := setup(t, emulator.X)
	create(t, credentialsSecret(ns, "imported", "SENTINELkey9876", "SENTINELsecret5432"))
	create(t, newKey(ns, "imported", "imported"))
	waitConverged(t, ns, "imported")

	create(t, credentialsSecret(ns, "claimant", "SENTINELkey9876", "SENTINELsecret5432"))
	create(t, newKey(ns, "claimant", "claimant"))
	waitReason(t, ns, "claimant", apigeev1alpha1.ReasonKeyConflict)

	a.preImport(t, "other-app", "SENTINELelsewhere1", "SENTINELelsewhereSecret1")
	create(t, credentialsSecret(ns, "elsewhere", "SENTINELelsewhere1", "SENTINELelsewhereSecret1"))
	create(t, newKey(ns, "elsewhere", "elsewhere"))
	waitReason(t, ns, "elsewhere", apigeev1alpha1.ReasonKeyConflict)

	create(t, credentialsSecret(ns, "rejected", "SENTINELbad key!", "SENTINELsecret5432"))
	create(t, newKey(ns, "rejected", "rejected"))
	waitReason(t, ns, "rejected", apigeev1alpha1.ReasonInvalidCredentials)

	create(t, credentialsSecret(ns, "unknown", "SENTINELkeyNoProduct", "SENTINELsecretNoProduct"))
	k := newKey(ns, "unknown", "unknown")
	k.Spec.APIProducts = append(k.Spec.APIProducts, apigeev1alpha1.APIProductRef{Name: "no-such-product"})
	create(t, k)
	waitReason(t, ns, "unknown", apigeev1alpha1.ReasonProductNotFound)

	setSecretField(t, ns, "imported", "consumerSecret", "SENTINELsecretRenewed")
	a.waitKey(t, "secret renewed", "SENTINELkey9876", func(c *apigee.Credential) bool {
		return c.ConsumerSecret == "SENTINELsecretRenewed" && convergedKey(c)
	})
	deleteKey(t, ns, "imported")
	waitGone(t, ns, "imported")

	create(t, tokenSecret(ns, "sentinel-token", "SENTINELtoken1234"))
	create(t, connectionTo(ns, "sentinel", a, "sentinel-token"))
	waitConnectionReason(t, ns, "sentinel", apigeev1alpha1.ReasonUnauthorized)

	generated := newKey(ns, "generated", "generated")
	generated.Spec.Credentials.Generate = true
	create(t, generated)
	waitConverged(t, ns, "generated")
	for field, value := range getSecret(t, ns, "generated").Data {
		if strings.Contains(logs.String(), string(value)) {
			t.Errorf("the generated %s appears in the logs", field)
		}
	}

	assertNoSentinel(t, "logs", logs.String())
	assertNoSentinel(t, "hex dumps in logs", hexDumpText(logs.String()))
	assertNoSentinel(t, "events", allEventText(t, ns))
	assertNoSentinel(t, "statuses", statusesJSON(t, ns))
	assertNoSentinel(t, "metrics", metricsText(t))
}

func assertNoSentinel(t *testing.T, where, text string) {
	t.Helper()
	if i := strings.Index(text, sentinel); i >= 0 {
		start := max(0, i-200)
		t.Errorf("a key or secret value appears in %s: …%s…", where, text[start:min(len(text), i+60)])
	}
}

// hexDumpRow is the printable column of one hex.Dump row inside a JSON
// log line, with the row's end: "|printable|" then an escaped newline or
// the closing quote.
var hexDumpRow = regexp.MustCompile(`\|([^|]{1,40})\|(?:\\n|")`)

// hexDumpText joins the printable columns of every hex dump in the logs
// (client-go dumps binary bodies that way), so a value split over two
// rows is found too.
func hexDumpText(logs string) string {
	var b strings.Builder
	for _, m := range hexDumpRow.FindAllStringSubmatch(logs, -1) {
		b.WriteString(m[1])
	}
	return b.String()
}

// statusesJSON is every DeveloperAppKey in the namespace as JSON, status
// and conditions included.
func statusesJSON(t *testing.T, ns string) string {
	t.Helper()
	list := &apigeev1alpha1.DeveloperAppKeyList{}
	if err := k8s.List(context.Background(), list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(list)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "KeyConflict") {
		t.Fatalf("statuses missing: %s", out)
	}
	return string(out)
}

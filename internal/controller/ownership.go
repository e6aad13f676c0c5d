package controller

import (
	"net/url"
	"slices"
	"strings"
	"time"

	apigeev1alpha1 "github.com/apigee-key-operator/apigee-key-operator/api/v1alpha1"
	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// The ownership rule, in one place: a managed key is a location plus a
// consumer key. An object changes, deletes or re-creates a key only when
// the key was found at the location recorded for it; a key anywhere else is
// someone else's.

// ownedKey is one key an object's status records: its fingerprint and
// where it lives.
type ownedKey struct {
	fingerprint string
	location    apigeev1alpha1.KeyLocation
	origin      apigeev1alpha1.KeyOrigin
}

// locationFor is where the spec says keys live, through the connection.
// The developer ID is unknown until the app is read. The developer is
// kept as the spec writes it, since calls name it so: Edge keeps emails
// in the case they were created with (the X client lower-cases them
// itself); comparisons ignore case (sameDeveloper).
func locationFor(conn *connection, spec *apigeev1alpha1.DeveloperAppKeySpec) apigeev1alpha1.KeyLocation {
	return apigeev1alpha1.KeyLocation{
		Endpoint:     normalEndpoint(conn.spec.EffectiveEndpoint()),
		Organization: conn.spec.Organization,
		Developer:    spec.Developer,
		App:          spec.App,
	}
}

// recordedLocation is where the object's current key lives. Status written
// by release 0.1 has no location: it then means the connection's endpoint
// and the spec's developer and app, as long as the organization it
// recorded is the connection's (an empty one predates any import).
func recordedLocation(k *apigeev1alpha1.DeveloperAppKey, target apigeev1alpha1.KeyLocation) (apigeev1alpha1.KeyLocation, bool) {
	switch {
	case k.Status.Location != nil:
		return *k.Status.Location, true
	case k.Status.ConsumerKeyFingerprint == "" && len(k.Status.PreviousKeys) == 0:
		return apigeev1alpha1.KeyLocation{}, false
	case k.Status.Organization != "" && k.Status.Organization != target.Organization:
		legacy := target
		legacy.Organization = k.Status.Organization
		legacy.Endpoint = ""
		return legacy, true
	}
	return target, true
}

// ownedKeys lists the keys the object's status records, each with its
// location (a 0.1 record without one means the current key's location).
func ownedKeys(k *apigeev1alpha1.DeveloperAppKey, current apigeev1alpha1.KeyLocation) []ownedKey {
	var out []ownedKey
	if fp := k.Status.ConsumerKeyFingerprint; fp != "" {
		out = append(out, ownedKey{fingerprint: fp, location: current, origin: k.Status.KeyOrigin})
	}
	for _, p := range k.Status.PreviousKeys {
		loc := current
		if p.Location != nil {
			loc = *p.Location
		}
		out = append(out, ownedKey{fingerprint: p.Fingerprint, location: loc, origin: p.Origin})
	}
	return out
}

// recordedKeys are the keys k's status records, each with its location.
// Records of release 0.1 name only the organization.
func recordedKeys(k *apigeev1alpha1.DeveloperAppKey) []ownedKey {
	cur := apigeev1alpha1.KeyLocation{Organization: k.Status.Organization}
	if k.Status.Location != nil {
		cur = *k.Status.Location
	}
	return ownedKeys(k, cur)
}

// recordsAt reports whether k's status records the key fp in loc's
// organization.
func recordsAt(k *apigeev1alpha1.DeveloperAppKey, fp string, loc apigeev1alpha1.KeyLocation) bool {
	return slices.ContainsFunc(recordedKeys(k), func(o ownedKey) bool {
		return o.fingerprint == fp && sameOrganization(o.location, loc)
	})
}

// sameOrganization: the same Apigee organization behind the same
// endpoint. Consumer keys are unique per organization, so a fingerprint
// and an organization already name one key. An empty endpoint (a 0.1
// record) matches any endpoint.
func sameOrganization(a, b apigeev1alpha1.KeyLocation) bool {
	if a.Organization != b.Organization {
		return false
	}
	return a.Endpoint == "" || b.Endpoint == "" || normalEndpoint(a.Endpoint) == normalEndpoint(b.Endpoint)
}

// sameLocation: the same organization, developer and app.
func sameLocation(a, b apigeev1alpha1.KeyLocation) bool {
	return sameOrganization(a, b) && a.App == b.App && sameDeveloper(a, b)
}

// sameDeveloper compares developers as Apigee resolves them: by ID when
// both are known, else by the name given (an email, case-insensitively,
// or an ID) against the other's name or ID.
func sameDeveloper(a, b apigeev1alpha1.KeyLocation) bool {
	if a.DeveloperID != "" && b.DeveloperID != "" {
		return a.DeveloperID == b.DeveloperID
	}
	da, db := normalDeveloper(a.Developer), normalDeveloper(b.Developer)
	return da == db || (a.DeveloperID != "" && a.DeveloperID == b.Developer) ||
		(b.DeveloperID != "" && b.DeveloperID == a.Developer)
}

// sameDeveloperID stops work at a location whose developer now has
// another ID than the one recorded (the developer was deleted and
// re-created): it is another location, and nothing there is ours.
func sameDeveloperID(rec apigeev1alpha1.KeyLocation, app *apigee.App) error {
	if rec.DeveloperID != "" && app.DeveloperID != "" && app.DeveloperID != rec.DeveloperID {
		return locationChanged(rec, "developer "+rec.Developer+" now resolves to developer ID "+app.DeveloperID)
	}
	return nil
}

// normalDeveloper lower-cases an email (Apigee X stores emails in lower
// case and matches them case-insensitively); developer IDs are kept.
func normalDeveloper(d string) string {
	if strings.Contains(d, "@") {
		return strings.ToLower(d)
	}
	return d
}

// normalEndpoint makes endpoint spellings comparable: scheme and host in
// lower case, without a default port or trailing slashes. Spellings that
// differ otherwise (another host name for the same server) stay apart.
func normalEndpoint(e string) string {
	e = strings.ToLower(strings.TrimRight(e, "/"))
	u, err := url.Parse(e)
	if err != nil || u.Host == "" {
		return e
	}
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		u.Host = u.Hostname()
	}
	return u.String()
}

// describeLocation names a location for messages: organization and app,
// never a key.
func describeLocation(l apigeev1alpha1.KeyLocation) string {
	s := "organization " + l.Organization
	if l.Endpoint != "" {
		s += " at " + l.Endpoint
	}
	return s + ", developer " + l.Developer + ", app " + l.App
}

// importIntent is the import-pending record: the key about to be created,
// where, and when the record was written. It holds a fingerprint, never
// the key, and the operator's signature (intentSigner): only an intent it
// wrote steers anything.
type importIntent struct {
	Fingerprint string                     `json:"fingerprint"`
	Location    apigeev1alpha1.KeyLocation `json:"location"`
	// At is when the operator wrote the record, in Unix milliseconds: it
	// proves an attempt to import, not a creation. A key issued before it
	// was there already (a 409), however the record came to stay.
	At  int64  `json:"at,omitempty"`
	MAC string `json:"mac,omitempty"`
}

// intentClockSkew is how far Apigee's clock (a key's issuedAt) may run
// behind the operator's (an intent's At); both keep time by NTP. Past it,
// a key the operator created reads as adopted: kept in Apigee on deletion,
// the cautious side.
const intentClockSkew = 10 * time.Second

// created reports whether cred, found where the intent says, is the key
// the intent's import created: issued no earlier than the intent was
// written (less the clock skew). A key with no issue time proves nothing.
func (in *importIntent) created(cred *apigee.Credential) bool {
	if in == nil || cred == nil || cred.IssuedAt.IsZero() || in.At == 0 {
		return false
	}
	return !cred.IssuedAt.Before(time.UnixMilli(in.At).Add(-intentClockSkew))
}

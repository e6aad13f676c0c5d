package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apigee-key-operator/apigee-key-operator/internal/apigee"
)

// apigeecli's "apps export" writes a JSON array of the organization's
// apps, each the answer of GET /organizations/{org}/apps/{id}; its
// "developers export" writes {"developer":[…]} from the developers list.
// Only the fields below are read; integers come as strings (X) or numbers.
type cliApp struct {
	Name           string    `json:"name"`
	AppID          string    `json:"appId"`
	DeveloperID    string    `json:"developerId"`
	DeveloperEmail string    `json:"developerEmail"`
	Status         string    `json:"status"`
	CreatedAt      flexInt   `json:"createdAt"`
	Credentials    []cliCred `json:"credentials"`
}

type cliCred struct {
	ConsumerKey    string `json:"consumerKey"`
	ConsumerSecret string `json:"consumerSecret"`
	Status         string `json:"status"`
	APIProducts    []struct {
		Name   string `json:"apiproduct"`
		Status string `json:"status"`
	} `json:"apiProducts"`
	Attributes []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"attributes"`
	Scopes    []string `json:"scopes"`
	IssuedAt  flexInt  `json:"issuedAt"`
	ExpiresAt flexInt  `json:"expiresAt"`
}

type cliDevelopers struct {
	Developer []struct {
		Email       string `json:"email"`
		DeveloperID string `json:"developerId"`
	} `json:"developer"`
}

// flexInt reads epoch milliseconds written as a number or a string.
type flexInt int64

func (n *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*n = 0
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return errors.New("want epoch milliseconds")
	}
	*n = flexInt(v)
	return nil
}

func (n flexInt) time() time.Time {
	if n <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(n)).UTC()
}

// readApigeecli reads an apps export and, when the apps carry developer
// ids only, the developers export that maps them to emails.
func readApigeecli(appsFile, developersFile string) ([]Key, error) {
	var apps []cliApp
	if err := readJSON(appsFile, &apps); err != nil {
		return nil, err
	}
	emails := map[string]string{}
	if developersFile != "" {
		var devs cliDevelopers
		if err := readJSON(developersFile, &devs); err != nil {
			return nil, err
		}
		for _, d := range devs.Developer {
			emails[d.DeveloperID] = d.Email
		}
	}
	var keys []Key
	for i, a := range apps {
		email := a.DeveloperEmail
		if email == "" {
			email = emails[a.DeveloperID]
		}
		if email == "" {
			return nil, fmt.Errorf("%s: app %d (%q) names no developer email and developer id %q is not in --developers",
				appsFile, i+1, a.Name, a.DeveloperID)
		}
		keys = append(keys, keysOf(email, a.domain())...)
	}
	return keys, nil
}

func (a cliApp) domain() *apigee.App {
	out := &apigee.App{Name: a.Name, AppID: a.AppID, DeveloperID: a.DeveloperID, Status: a.Status, CreatedAt: a.CreatedAt.time()}
	for _, c := range a.Credentials {
		cred := apigee.Credential{ConsumerKey: c.ConsumerKey, ConsumerSecret: c.ConsumerSecret, Status: c.Status,
			Scopes: c.Scopes, IssuedAt: c.IssuedAt.time(), ExpiresAt: c.ExpiresAt.time()}
		for _, p := range c.APIProducts {
			cred.Products = append(cred.Products, apigee.ProductStatus{Name: p.Name, Status: p.Status})
		}
		for _, at := range c.Attributes {
			cred.Attributes = append(cred.Attributes, apigee.Attribute{Name: at.Name, Value: at.Value})
		}
		out.Credentials = append(out.Credentials, cred)
	}
	return out
}

// readJSON decodes a file; an error names the line and field, never a value.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	err = json.Unmarshal(b, v)
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &syn):
		return fmt.Errorf("%s:%d: not valid JSON", path, lineAt(b, syn.Offset))
	case errors.As(err, &typ):
		return fmt.Errorf("%s:%d: field %s: want %s", path, lineAt(b, typ.Offset), typ.Field, typ.Type)
	}
	return fmt.Errorf("%s: unreadable (%s)", path, describeJSONError(err))
}

// describeJSONError keeps only our own messages (flexInt's), which hold
// no values.
func describeJSONError(err error) string {
	if strings.Contains(err.Error(), "want epoch milliseconds") {
		return "a timestamp is not epoch milliseconds"
	}
	return "unexpected content"
}

func lineAt(b []byte, offset int64) int {
	return bytes.Count(b[:min(int(offset), len(b))], []byte("\n")) + 1
}

// CSV columns. developer, app, consumerKey and consumerSecret are
// required; the rest optional, in any order, named by the header line.
var csvColumns = []string{"developer", "app", "consumerKey", "consumerSecret", "products", "status", "attributes", "scopes", "expiresAt"}

// readCSV reads keys from a CSV file whose first line names the columns:
// products "p1;p2:revoked", attributes "name=value;…", scopes "a;b",
// status approved|revoked, expiresAt RFC 3339 (empty: never).
func readCSV(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s:1: want a header line naming the columns (%s)", path, strings.Join(csvColumns, ","))
	}
	cols, err := csvHeader(header)
	if err != nil {
		return nil, fmt.Errorf("%s:1: %w", path, err)
	}
	var keys []Key
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return keys, nil
		}
		line, _ := r.FieldPos(0)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not valid CSV", path, line)
		}
		k, err := csvKey(rec, cols)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		keys = append(keys, k)
	}
}

func csvHeader(header []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if !slices.Contains(csvColumns, h) {
			return nil, fmt.Errorf("unknown column %q: columns are %s", h, strings.Join(csvColumns, ","))
		}
		cols[h] = i
	}
	for _, req := range csvColumns[:4] {
		if _, ok := cols[req]; !ok {
			return nil, fmt.Errorf("column %s is required", req)
		}
	}
	return cols, nil
}

// csvKey builds a key from one record; errors name the column only.
func csvKey(rec []string, cols map[string]int) (Key, error) {
	get := func(c string) string {
		if i, ok := cols[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	k := Key{Developer: get("developer"), App: get("app"), ConsumerKey: get("consumerKey"),
		ConsumerSecret: get("consumerSecret"), Status: strings.ToLower(get("status"))}
	for _, c := range csvColumns[:4] {
		if get(c) == "" {
			return k, fmt.Errorf("column %s is empty", c)
		}
	}
	for _, c := range []string{"consumerKey", "consumerSecret"} {
		if err := apigee.ValidateImport("CSV", apigee.ImportRequest{ConsumerKey: get(c), ConsumerSecret: get(c)}); err != nil {
			return k, fmt.Errorf("column %s: only letters, digits, _ and - are allowed, at most 2 KB", c)
		}
	}
	switch k.Status {
	case "":
		k.Status = apigee.StatusApproved
	case apigee.StatusApproved, apigee.StatusRevoked:
	default:
		return k, errors.New("column status: want approved or revoked")
	}
	var err error
	if k.Products, err = csvProducts(get("products")); err != nil {
		return k, err
	}
	if k.Attributes, err = csvAttributes(get("attributes")); err != nil {
		return k, err
	}
	k.Scopes = splitList(get("scopes"))
	if s := get("expiresAt"); s != "" {
		if k.ExpiresAt, err = time.Parse(time.RFC3339, s); err != nil {
			return k, errors.New("column expiresAt: want RFC 3339, e.g. 2027-01-31T00:00:00Z")
		}
	}
	return k, nil
}

func csvProducts(s string) ([]apigee.ProductStatus, error) {
	var out []apigee.ProductStatus
	for _, p := range splitList(s) {
		name, status, _ := strings.Cut(p, ":")
		status = strings.ToLower(status)
		switch status {
		case "":
			status = apigee.StatusApproved
		case apigee.StatusApproved, apigee.StatusRevoked:
		default:
			return nil, fmt.Errorf("column products: product %q: status must be approved or revoked", name)
		}
		out = append(out, apigee.ProductStatus{Name: name, Status: status})
	}
	return out, nil
}

func csvAttributes(s string) ([]apigee.Attribute, error) {
	var out []apigee.Attribute
	for _, a := range splitList(s) {
		name, value, ok := strings.Cut(a, "=")
		if !ok || name == "" {
			return nil, errors.New("column attributes: want name=value;name=value")
		}
		out = append(out, apigee.Attribute{Name: name, Value: value})
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

package cli

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressBarOnATerminal(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, terminal: true}
	p.update("Reading %s: %d developers", "organization acme", 3)
	for i := range 4 {
		p.count("Secrets applied", i+1, 4)
	}
	got := b.String()
	want := "\r\033[KReading organization acme: 3 developers" +
		"\r\033[K[#######-----------------------]  25% 1/4 Secrets applied" +
		"\r\033[K[###############---------------]  50% 2/4 Secrets applied" +
		"\r\033[K[######################--------]  75% 3/4 Secrets applied" +
		"\r\033[K[##############################] 100% 4/4 Secrets applied\n"
	if got != want {
		t.Errorf("terminal output:\n%q\nwant\n%q", got, want)
	}
}

func TestProgressLinesOtherwise(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b}
	p.update("Reading %s: %d developers", "organization acme", 3)
	for i := range 4 {
		p.count("manifests written", i+1, 4) // small: the summary is enough
	}
	for i := range 2000 {
		p.count("Secrets applied", i+1, 2000)
	}
	p.done()
	got := b.String()
	if strings.ContainsAny(got, "\r\033") {
		t.Errorf("control characters in plain output: %q", got)
	}
	lines := strings.Split(strings.TrimSpace(got), "\n")
	// The start, then every tenth.
	if len(lines) != 12 || lines[0] != "Reading organization acme: 3 developers" || lines[1] != "1/2000 Secrets applied" ||
		lines[2] != "200/2000 Secrets applied" || lines[11] != "2000/2000 Secrets applied" {
		t.Errorf("plain output (%d lines):\n%s", len(lines), got)
	}
}

// TestExportProgressOnATerminal: export draws its bars on stderr when it
// is a terminal, and plain output has none; neither shows a value.
func TestExportProgressOnATerminal(t *testing.T) {
	for _, terminal := range []bool{true, false} {
		var out, errOut bytes.Buffer
		env := &Env{Out: &out, Err: &errOut, Terminal: terminal}
		code := Main([]string{"export", "--from-apigeecli", write(t, "apps.json", appsJSON), "--developers", write(t, "d.json", developersJSON),
			"--target-connection", "prod", "-n", "x", "--output-dir", t.TempDir(), "--secrets-dir", t.TempDir() + "/s"}, env)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut.String())
		}
		bar := strings.Contains(errOut.String(), "\r\033[K[##############################] 100% 1/1 Secret files written\n")
		if bar != terminal {
			t.Errorf("terminal %v: stderr %q", terminal, errOut.String())
		}
		noLeak(t, out.String()+errOut.String())
	}
}

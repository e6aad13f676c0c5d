package cli

import (
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress reports long work on stderr: on a terminal one line redrawn in
// place (a bar when the total is known), otherwise plain lines for logs
// (for counts of plainFrom or more, a line every tenth of the way). Never
// anything secret: counts.
type progress struct {
	w        io.Writer
	terminal bool
	drawn    bool
	tenth    int // last tenth reported as a plain line, per count
	label    string
}

const (
	barWidth  = 30   // the bar's length in characters
	plainFrom = 1000 // smaller counts get no plain lines: the summary says it
)

func (p *progress) update(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, msg)
}

// count reports done of total things under label ("Secrets applied").
func (p *progress) count(label string, done, total int) {
	if total <= 0 {
		return
	}
	if label != p.label {
		p.label, p.tenth = label, -1
	}
	if p.terminal {
		filled := barWidth * done / total
		fmt.Fprintf(p.w, "\r\033[K[%s%s] %3d%% %d/%d %s", strings.Repeat("#", filled), strings.Repeat("-", barWidth-filled),
			100*done/total, done, total, label)
		p.drawn = true
		if done == total {
			p.done()
		}
		return
	}
	if tenth := 10 * done / total; total >= plainFrom && tenth > p.tenth {
		p.tenth = tenth
		fmt.Fprintf(p.w, "%d/%d %s\n", done, total, label)
	}
}

// done ends a redrawn line so what follows starts on its own.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

package cli

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progress reports a long read on stderr: one line redrawn in place on a
// terminal, plain lines otherwise (CI logs). Never anything secret: counts.
type progress struct {
	w        io.Writer
	terminal bool
	drawn    bool
}

func (p *progress) update(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if p.terminal {
		fmt.Fprintf(p.w, "\r\033[K%s", msg)
		p.drawn = true
		return
	}
	fmt.Fprintln(p.w, msg)
}

// done ends a redrawn line so what follows starts on its own.
func (p *progress) done() {
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

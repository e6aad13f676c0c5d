package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// table prints aligned columns.
type table struct {
	w    io.Writer
	tw   *tabwriter.Writer
	rows int
}

func newTable(w io.Writer, headers ...string) *table {
	t := &table{w: w, tw: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	fmt.Fprintln(t.tw, strings.Join(headers, "\t"))
	return t
}

func (t *table) row(cells ...string) {
	t.rows++
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { _ = t.tw.Flush() }

// flushOrNone prints the table, or "none" when it has no rows.
func (t *table) flushOrNone() {
	if t.rows == 0 {
		fmt.Fprintln(t.w, "  none")
		return
	}
	t.flush()
}

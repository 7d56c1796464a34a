package local_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/local"
)

var (
	mdLink    = regexp.MustCompile(`\]\(([^)\s]+)\)|<img src="([^"]+)"`)
	mdHeading = regexp.MustCompile(`(?m)^#{1,6} (.+)$`)
	fence     = regexp.MustCompile("(?s)```.*?```")
)

// anchor is the id GitHub gives a heading: lower case, punctuation but
// hyphens and underscores dropped, spaces as hyphens.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127 && r != '→' && r != '—':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestDocsLinksResolve: every relative link of every Markdown page names a
// file of the repository, and a #fragment names a heading of its page.
func TestDocsLinksResolve(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]map[string]bool{}
	headings := func(page string) map[string]bool {
		if a, ok := anchors[page]; ok {
			return a
		}
		raw, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		a := map[string]bool{}
		for _, m := range mdHeading.FindAllStringSubmatch(fence.ReplaceAllString(string(raw), ""), -1) {
			a[anchor(strings.ReplaceAll(m[1], "`", ""))] = true
		}
		anchors[page] = a
		return a
	}
	links := 0
	for _, page := range markdownPages(t, root) {
		raw, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range mdLink.FindAllStringSubmatch(fence.ReplaceAllString(string(raw), ""), -1) {
			link := m[1] + m[2]
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			links++
			path, frag, _ := strings.Cut(link, "#")
			target := page
			if path != "" {
				target = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(page), path)))
				if _, err := os.Stat(filepath.Join(root, target)); err != nil {
					t.Errorf("%s links to %s, which does not exist", page, link)
					continue
				}
			}
			if frag != "" && strings.HasSuffix(target, ".md") && !headings(target)[frag] {
				t.Errorf("%s links to %s: %s has no heading #%s", page, link, target, frag)
			}
		}
	}
	if links < 50 {
		t.Fatalf("found only %d relative links in the docs", links)
	}
}

func TestAnchor(t *testing.T) {
	for heading, want := range map[string]string{"Known limits": "known-limits", "Load and fault run: make soak": "load-and-fault-run-make-soak",
		"Dashboard, logs and metrics": "dashboard-logs-and-metrics", "Fuzzing (figures)": "fuzzing-figures"} {
		if got := anchor(heading); got != want {
			t.Errorf("anchor(%q) = %q, want %q", heading, got, want)
		}
	}
}

// TestReadmeStaysShort: the README welcomes and points to the pages of each
// role; what grows goes on those pages.
func TestReadmeStaysShort(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 12*1024 {
		t.Errorf("README.md is %d bytes, over 12 kB: move the detail to the page of its reader (DEVELOPMENT.md, \"Where docs go\")", fi.Size())
	}
}

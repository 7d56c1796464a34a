package local_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pregate/pregate/infra/local"
)

// readmeBlock is a shell block of a documentation page marked `<!-- readme-test: NAME -->`.
type readmeBlock struct {
	page string
	name string
	code string
	// want are the block's expected-output comments, in order: comment lines
	// right after a command (an explanatory comment follows a blank line or
	// opens the block).
	want []string
}

var readmeMarker = regexp.MustCompile(`^<!-- readme-test: ([a-z0-9-]+) -->$`)

func readmeBlocks(page, text string) ([]readmeBlock, error) {
	var blocks []readmeBlock
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		m := readmeMarker.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```sh" {
			return nil, fmt.Errorf("%s line %d: marker %q not followed by a ```sh block", page, i+1, m[1])
		}
		b := readmeBlock{page: page, name: m[1]}
		prev := "" // the previous line of the block
		for i += 2; i < len(lines) && lines[i] != "```"; i++ {
			line := lines[i]
			if strings.HasPrefix(line, "# ") && prev != "" && (!strings.HasPrefix(prev, "#") || len(b.want) > 0 && prev == "# "+b.want[len(b.want)-1]) {
				b.want = append(b.want, strings.TrimPrefix(line, "# "))
			}
			b.code += line + "\n"
			prev = line
		}
		blocks = append(blocks, b)
	}
	return blocks, nil
}

func TestReadmeBlockParsing(t *testing.T) {
	blocks, err := readmeBlocks("a.md", "<!-- readme-test: a -->\n```sh\n# explains\nX=1\n# 1\n# 2\n\n# explains more\necho $X\n# 1\n```\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 1 || blocks[0].name != "a" || strings.Join(blocks[0].want, "|") != "1|2|1" {
		t.Fatalf("parsed %+v", blocks)
	}
	if _, err := readmeBlocks("a.md", "<!-- readme-test: a -->\n```go\n```\n"); err == nil {
		t.Fatal("a marker before a non-shell block must be refused")
	}
}

// markdownPages are the repository's Markdown files, relative to root: the
// README first, then the others by path, the order their marked blocks run in.
func markdownPages(t *testing.T, root string) []string {
	t.Helper()
	var pages []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && filepath.Ext(path) == ".md" {
			rel, _ := filepath.Rel(root, path)
			pages = append(pages, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(pages, func(i, j int) bool {
		if (pages[i] == "README.md") != (pages[j] == "README.md") {
			return pages[i] == "README.md"
		}
		return pages[i] < pages[j]
	})
	return pages
}

// needTools fails (under make test, which installs them first) or skips,
// with the command that installs them, when a tool is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("the docs' commands need %s; install them (Debian/Ubuntu: sudo apt-get install -y %s), or run make test, which installs them when it can",
		strings.Join(missing, ", "), strings.Join(missing, " "))
	if os.Getenv("PREGATE_MAKE_TEST") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// TestReadmeCommands runs the marked shell blocks of every Markdown page (the
// README first, then the others by path), in order and in one shell, against
// a local system (as `make run` would serve it), and checks each block's
// expected-output comments appear in its output, in order.
func TestReadmeCommands(t *testing.T) {
	needTools(t, "bash", "curl", "jq")
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	names := map[string]string{}
	for _, page := range markdownPages(t, root) {
		text, err := os.ReadFile(filepath.Join(root, page))
		if err != nil {
			t.Fatal(err)
		}
		found, err := readmeBlocks(page, string(text))
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range found {
			if other, dup := names[b.name]; dup {
				t.Fatalf("block name %q is used in %s and %s", b.name, other, page)
			}
			names[b.name] = page
		}
		blocks = append(blocks, found...)
	}
	// The README's own, the admin guide's tasks and the validator journey.
	for _, want := range []string{"health", "walkthrough", "admin-token", "admin-requests", "journey"} {
		if names[want] == "" {
			t.Errorf("no page has the marked block %q", want)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sys, err := local.Start(ctx, local.Options{Root: root, Addr: "127.0.0.1:0", Endpoint: os.Getenv("AWS_ENDPOINT_URL"),
		// A validator that is not listening yet fails its first attempt; a long
		// backoff keeps such requests awaiting while the blocks read them.
		Env: map[string]string{"WEBHOOK_BACKOFF": "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sys.Stop)
	validatorAddr := freeAddr(t)

	const sep = "@@readme-block@@"
	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for _, b := range blocks {
		fmt.Fprintf(&script, "echo %s%s\n%s", sep, b.name, b.code)
	}
	here := strings.NewReplacer("http://127.0.0.1:3000", sys.URL, "127.0.0.1:8099", validatorAddr)
	src := here.Replace(script.String())

	cmd := exec.CommandContext(ctx, "bash", "-c", src)
	cmd.Dir = root
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // the validator runs in the background
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// The background validator (a child of `go run`) outlives the shell and
	// holds its output open: stop waiting for it shortly after the shell ends.
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(runErr, exec.ErrWaitDelay) {
		runErr = nil // the shell itself exited 0
	}

	outputs := map[string][]string{}
	current := ""
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if name, ok := strings.CutPrefix(sc.Text(), sep); ok {
			current = name
			continue
		}
		outputs[current] = append(outputs[current], strings.TrimSpace(sc.Text()))
	}
	if runErr != nil {
		t.Fatalf("the docs' commands failed: %v\nlast block: %s (%s)\noutput:\n%s\nstderr:\n%s", runErr, current, names[current], strings.Join(outputs[current], "\n"), stderr.String())
	}
	for _, b := range blocks {
		out := outputs[b.name]
		next := 0
		for _, want := range b.want {
			want = here.Replace(want)
			for next < len(out) && out[next] != want {
				next++
			}
			if next == len(out) {
				t.Errorf("%s, block %s: expected output %q not found (in order) in:\n%s", b.page, b.name, want, strings.Join(out, "\n"))
				break
			}
			next++
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// userFacing is what the repository's texts may not say to users: the
// internal contract file and its sections, issue numbers, and paths of the
// machine the project is built on. The patterns are written so that they do
// not match themselves.
// bareIssue is "#4" alone, refused in Markdown and the Makefile (elsewhere
// it may be a colour).
var bareIssue = regexp.MustCompile(`(^|[\s(\[])#\d+\b`)

var userFacing = []struct {
	what string
	re   *regexp.Regexp
}{
	{"the internal contract file", regexp.MustCompile(`\bS[P]EC\b`)},
	{"a section sign", regexp.MustCompile(`\x{00A7}`)},
	{"an issue number", regexp.MustCompile(`(?i)\bissu[e]s?\s*#?\s*\d+`)},
	{"a tracker issue", regexp.MustCompile(`(?i)\bthe issu[e]('s)?\b`)},
	{"a machine path", regexp.MustCompile(`(^|[\s"'(=:])/(w[o]rk|h[o]me|U[s]ers|r[o]ot|t[m]p)/|(^|[\s"'(=])[A-Z]:\\[A-Za-z]`)},
}

// skipDirs are the folders no docs test reads: tools, builds, fixtures.
var skipDirs = map[string]bool{".git": true, ".venv": true, "bin": true, ".aws-sam": true, "node_modules": true, "testdata": true}

// diaryWording is what a user page may not say: how and where we measured
// and tested belongs in DEVELOPMENT.md and docs/internals/.
var diaryWording = regexp.MustCompile(`(?i)\bload average\b|\bshared cores?\b|\bnot (tested|exercised) here\b|\bon this machine\b|\bthe emulator tests\b`)

// userPage reports whether a repository file (slash-separated, relative)
// is read by users: the README and docs/ but for docs/internals/.
func userPage(rel string) bool {
	return rel == "README.md" || strings.HasPrefix(rel, "docs/") && !strings.HasPrefix(rel, "docs/internals/") && strings.HasSuffix(rel, ".md")
}

// userPages are the pages every role is sent to from the README.
var userPages = []string{"README.md", "docs/admin.md", "docs/deploy.md", "docs/operate.md", "docs/configuration.md",
	"docs/validators.md", "docs/security.md", "docs/lifecycle.md", "docs/openapi.yaml",
	"DEVELOPMENT.md", "CHANGELOG.md", "SECURITY.md"}

// TestDocsSpeakToUsers: README.md, docs/ and every other source, build or
// documentation file of the repository name no internal contract section, no
// issue number and no local machine path. The README and docs/ are read by
// validators, admins and operators who have none of those.
func TestDocsSpeakToUsers(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	text := map[string]bool{".go": true, ".md": true, ".yaml": true, ".yml": true, ".toml": true, ".py": true, ".txt": true,
		".json": true, ".js": true, ".html": true, ".css": true, ".sh": true}
	checked, userChecked := 0, 0
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !text[filepath.Ext(path)] && d.Name() != "Makefile" {
			return nil
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		checked++
		prose := filepath.Ext(path) == ".md" || d.Name() == "Makefile"
		forUsers := userPage(filepath.ToSlash(rel))
		if forUsers {
			userChecked++
		}
		for i, line := range strings.Split(string(raw), "\n") {
			if m := diaryWording.FindString(line); forUsers && m != "" {
				t.Errorf("%s:%d tells users how we test or measure (%q): move it to DEVELOPMENT.md or docs/internals/", rel, i+1, m)
			}
			if m := bareIssue.FindString(line); prose && m != "" {
				t.Errorf("%s:%d names an issue number (%q): %s", rel, i+1, strings.TrimSpace(m), strings.TrimSpace(line))
			}
			for _, p := range userFacing {
				if m := p.re.FindString(line); m != "" {
					t.Errorf("%s:%d names %s (%q): %s", rel, i+1, p.what, strings.TrimSpace(m), strings.TrimSpace(line))
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, must := range userPages {
		if _, err := os.Stat(filepath.Join(root, must)); err != nil {
			t.Errorf("%s: %v", must, err)
		}
	}
	if userChecked < 7 {
		t.Errorf("checked only %d user pages; the walk missed README.md or docs/", userChecked)
	}
	if checked < 50 {
		t.Fatalf("checked only %d files; the walk missed the repository", checked)
	}
}

func TestUserFacingPatterns(t *testing.T) {
	bad := []string{"see S" + "PEC \u00a710", "issu" + "e #7", "Issu" + "e 15", "the issu" + "e's sizes",
		"git clone /wo" + "rk/main x", "cd /tm" + "p/x", "C:" + "\\Users"}
	for _, s := range bad {
		found := false
		for _, p := range userFacing {
			found = found || p.re.MatchString(s)
		}
		if !found {
			t.Errorf("%q passes the check", s)
		}
	}
	if !bareIssue.MatchString("the target #" + "4 in") {
		t.Error("a bare issue number passes the check")
	}
	for _, s := range []string{"on 2 shared cores", "load average about 5", "LocalStack (not tested here)", "That path is not exercised here."} {
		if !diaryWording.MatchString(s) {
			t.Errorf("%q passes the user pages' check", s)
		}
	}
	for _, s := range []string{"the average load of a webhook", "a shared secret", "tested by the validator", "the sharded cores of the index"} {
		if diaryWording.MatchString(s) {
			t.Errorf("%q is refused on user pages", s)
		}
	}
	for rel, want := range map[string]bool{"README.md": true, "docs/admin.md": true, "docs/internals/soak.md": false, "DEVELOPMENT.md": false, "docs/openapi.yaml": false} {
		if userPage(rel) != want {
			t.Errorf("userPage(%q) = %v", rel, !want)
		}
	}
	good := []string{"## Performance", "see [lifecycle](#the-life)", "a 404 for issues of paging", "$(mktemp -d)", "GET /api/v1/health",
		"the template's specification", "`internal/gate`"}
	for _, s := range good {
		for _, p := range userFacing {
			if p.re.MatchString(s) {
				t.Errorf("%q is refused as %s", s, p.what)
			}
		}
	}
}

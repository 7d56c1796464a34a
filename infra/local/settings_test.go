package local_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pregate/pregate/infra/local"
	"github.com/pregate/pregate/infra/stack"
)

// TestMakeRunTakesEverySettingOfTheConfigurationPage: docs/configuration.md
// says `make run` takes from the shell every variable of its table that has
// a local default; ShellSettings must hold each of them, and no variable
// naming a stack resource.
func TestMakeRunTakesEverySettingOfTheConfigurationPage(t *testing.T) {
	root, err := local.Root()
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := stack.LoadTemplate(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(root, "docs/configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	settings := local.ShellSettings(tmpl)
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")
	checked := 0
	for _, line := range strings.Split(string(page), "\n") {
		cells := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cells) < 5 || strings.HasPrefix(cells[1], "—") || strings.HasPrefix(cells[3], "—") {
			continue
		}
		for _, m := range name.FindAllStringSubmatch(cells[1], -1) {
			checked++
			if !slices.Contains(settings, m[1]) {
				t.Errorf("docs/configuration.md gives %s a local default, but make run does not take it from the shell", m[1])
			}
		}
	}
	if checked < 15 {
		t.Fatalf("read only %d variables from docs/configuration.md's table", checked)
	}
	for _, resource := range []string{"REQUESTS_TABLE", "CONFIG_TABLE", "DISPATCH_QUEUE_URL", "SECRETS_KEY_ID"} {
		if slices.Contains(settings, resource) {
			t.Errorf("make run takes %s from the shell; the local stack names its own resources", resource)
		}
	}
}

// Package examples holds the files users copy; its tests keep them true.
package examples

import (
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The CI example is a GitHub Actions workflow that plans with
// --detailed-exitcode (2 is not a failure) and dry-runs what it planned.
func TestCIWorkflow(t *testing.T) {
	b, err := os.ReadFile("ci/migrate.yml")
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		On   map[string]struct{ Paths []string } `yaml:"on"`
		Jobs map[string]struct {
			Steps []struct {
				Run string `yaml:"run"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatalf("ci/migrate.yml is not YAML: %v", err)
	}
	if pr, ok := wf.On["pull_request"]; !ok || len(pr.Paths) == 0 {
		t.Errorf("the workflow must run on pull requests that touch specs: %+v", wf.On)
	}
	var script string
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			script += s.Run + "\n"
		}
	}
	for _, want := range []string{"migrate plan -f", "--detailed-exitcode", `"$rc" -eq 2`, "migrate apply", "--dry-run"} {
		if !strings.Contains(script, want) {
			t.Errorf("the workflow does not run %q", want)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRequiredPackagesReadsPulumiSections(t *testing.T) {
	root := t.TempDir()
	nm := filepath.Join(root, "node_modules")
	writeFile(t, filepath.Join(nm, "@pulumi/kubernetes/package.json"),
		`{"name":"@pulumi/kubernetes","version":"4.32.0","pulumi":{"resource":true,"name":"kubernetes","version":"4.32.0"}}`)
	writeFile(t, filepath.Join(nm, "@pulumi/command/package.json"),
		`{"name":"@pulumi/command","version":"1.2.1","pulumi":{"resource":true,"name":"command","version":"v1.2.1","server":"https://example.invalid"}}`)
	// an older package without name/version in its pulumi section: taken from the package itself
	writeFile(t, filepath.Join(nm, "@pulumi/random/package.json"),
		`{"name":"@pulumi/random","version":"4.16.0","pulumi":{"resource":true}}`)
	writeFile(t, filepath.Join(nm, "@pulumi/pulumi/package.json"), `{"name":"@pulumi/pulumi","version":"3.248.0"}`)
	writeFile(t, filepath.Join(nm, "yaml/package.json"), `{"name":"yaml","version":"2.8.0"}`)
	// the program lives in a subfolder: node_modules is found in a parent
	program := filepath.Join(root, "infra")
	if err := os.MkdirAll(program, 0o755); err != nil {
		t.Fatal(err)
	}

	deps, err := requiredPackages(program)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range deps {
		if d.GetKind() != "resource" {
			t.Errorf("%s: kind %q, want resource", d.GetName(), d.GetKind())
		}
		got[d.GetName()] = d.GetVersion() + " " + d.GetServer()
	}
	want := map[string]string{
		"command":    "v1.2.1 https://example.invalid",
		"kubernetes": "v4.32.0 ",
		"random":     "v4.16.0 ",
	}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
}

func TestRequiredPackagesWithoutNodeModules(t *testing.T) {
	if _, err := requiredPackages(t.TempDir()); err == nil {
		t.Fatal("expected an error when node_modules is missing")
	}
}

func TestParseOptions(t *testing.T) {
	cases := []struct {
		name string
		opts map[string]any
		want runOptions
	}{
		{"defaults", nil, runOptions{typescript: true}},
		{"all", map[string]any{"typescript": false, "tsconfig": "tsconfig.build.json", "nodeargs": "--max-old-space-size=4096  --no-warnings"},
			runOptions{typescript: false, tsconfig: "tsconfig.build.json", nodeargs: []string{"--max-old-space-size=4096", "--no-warnings"}}},
		{"wrong types ignored", map[string]any{"typescript": "no", "nodeargs": 3}, runOptions{typescript: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info := &pulumirpc.ProgramInfo{}
			if c.opts != nil {
				s, err := structpb.NewStruct(c.opts)
				if err != nil {
					t.Fatal(err)
				}
				info.Options = s
			}
			got := parseOptions(info)
			if got.typescript != c.want.typescript || got.tsconfig != c.want.tsconfig ||
				len(got.nodeargs) != len(c.want.nodeargs) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
			for i := range got.nodeargs {
				if got.nodeargs[i] != c.want.nodeargs[i] {
					t.Fatalf("nodeargs: got %q, want %q", got.nodeargs, c.want.nodeargs)
				}
			}
		})
	}
}

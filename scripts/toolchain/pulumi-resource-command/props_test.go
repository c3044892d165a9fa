package main

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

func secret(v any) resource.PropertyValue { return resource.MakeSecret(resource.NewPropertyValue(v)) }

func baseInputs() resource.PropertyMap {
	return resource.PropertyMap{
		"connection": resource.NewObjectProperty(resource.PropertyMap{
			"host":       resource.NewStringProperty("192.0.2.10"),
			"privateKey": secret("KEY"),
			"hostKey":    resource.NewStringProperty(testHostKeyLine),
		}),
		"create":  resource.NewStringProperty("push"),
		"delete":  resource.NewStringProperty("restore"),
		"stdin":   secret("config"),
		"logging": resource.NewStringProperty("stdoutAndStderr"),
	}
}

// an ed25519 public key in authorized_keys format (any valid one: only parsed here)
const testHostKeyLine = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPESckKDmck1WB0FPJItcu1TMP8wfCMCiZ0mtS8QnhLi lb-1"

func TestCheckAppliesConnectionDefaultsAndKeepsSecrets(t *testing.T) {
	out, failures := checkInputs(baseInputs())
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	c := out["connection"].ObjectValue()
	for k, want := range map[string]any{"user": "root", "port": 22.0, "dialErrorLimit": 10.0, "perDialTimeout": 15.0} {
		if got := c[resource.PropertyKey(k)].V; got != want {
			t.Errorf("connection.%s: got %v, want %v", k, got, want)
		}
	}
	if !c["privateKey"].IsSecret() || !out["stdin"].IsSecret() {
		t.Error("secret inputs must stay secret after Check")
	}

	// given values win over defaults; a wholly secret connection stays secret
	in := baseInputs()
	in["connection"] = resource.MakeSecret(resource.NewObjectProperty(resource.PropertyMap{
		"host": resource.NewStringProperty("lb"), "user": resource.NewStringProperty("deploy"),
		"port": resource.NewNumberProperty(2222), "dialErrorLimit": resource.NewNumberProperty(3),
		"perDialTimeout": resource.NewNumberProperty(10), "password": resource.NewStringProperty("pw"),
	}))
	out, failures = checkInputs(in)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	if !out["connection"].IsSecret() {
		t.Fatal("a secret connection must stay secret")
	}
	c = out["connection"].SecretValue().Element.ObjectValue()
	if c["user"].StringValue() != "deploy" || c["port"].NumberValue() != 2222 || c["dialErrorLimit"].NumberValue() != 3 ||
		c["perDialTimeout"].NumberValue() != 10 {
		t.Errorf("given values replaced by defaults: %v", c)
	}
}

func TestCheckFailures(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(resource.PropertyMap)
		prop   string
	}{
		{"no connection", func(m resource.PropertyMap) { delete(m, "connection") }, "connection"},
		{"no host", func(m resource.PropertyMap) { delete(m["connection"].ObjectValue(), "host") }, "connection.host"},
		{"proxy", func(m resource.PropertyMap) {
			m["connection"].ObjectValue()["proxy"] = resource.NewObjectProperty(resource.PropertyMap{"host": resource.NewStringProperty("b")})
		}, "connection.proxy"},
		{"bad host key", func(m resource.PropertyMap) {
			m["connection"].ObjectValue()["hostKey"] = resource.NewStringProperty("not-a-key")
		}, "connection.hostKey"},
		{"bad port", func(m resource.PropertyMap) { m["connection"].ObjectValue()["port"] = resource.NewNumberProperty(0) }, "connection.port"},
		{"bad logging", func(m resource.PropertyMap) { m["logging"] = resource.NewStringProperty("all") }, "logging"},
		{"unknown property", func(m resource.PropertyMap) { m["dir"] = resource.NewStringProperty("/") }, "dir"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := baseInputs()
			c.mutate(in)
			_, failures := checkInputs(in)
			if len(failures) != 1 || failures[0].Property != c.prop {
				t.Fatalf("got %v, want one failure on %s", failures, c.prop)
			}
		})
	}
}

func TestCheckLeavesUnknownsAlone(t *testing.T) {
	in := baseInputs()
	in["stdin"] = resource.MakeComputed(resource.NewStringProperty(""))
	in["connection"].ObjectValue()["host"] = resource.MakeComputed(resource.NewStringProperty(""))
	out, failures := checkInputs(in)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	if !out["stdin"].IsComputed() || !out["connection"].ObjectValue()["host"].IsComputed() {
		t.Fatal("unknowns must stay unknown")
	}
}

func checked(t *testing.T, m resource.PropertyMap) resource.PropertyMap {
	t.Helper()
	out, failures := checkInputs(m)
	if len(failures) != 0 {
		t.Fatalf("unexpected failures: %v", failures)
	}
	return out
}

func TestDiff(t *testing.T) {
	olds := checked(t, baseInputs())
	cases := []struct {
		name     string
		mutate   func(resource.PropertyMap)
		ignore   []string
		changes  pulumirpc.DiffResponse_DiffChanges
		detailed map[string]pulumirpc.PropertyDiff_Kind
		replaces []string
	}{
		{"equal", func(resource.PropertyMap) {}, nil, pulumirpc.DiffResponse_DIFF_NONE, nil, nil},
		{"only secretness differs", func(m resource.PropertyMap) {
			m["stdin"] = resource.NewStringProperty("config")
			m["connection"] = resource.MakeSecret(m["connection"])
		}, nil, pulumirpc.DiffResponse_DIFF_NONE, nil, nil},
		{"stdin changed: update", func(m resource.PropertyMap) { m["stdin"] = secret("config v2") }, nil,
			pulumirpc.DiffResponse_DIFF_SOME, map[string]pulumirpc.PropertyDiff_Kind{"stdin": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"host changed: update", func(m resource.PropertyMap) {
			m["connection"].ObjectValue()["host"] = resource.NewStringProperty("192.0.2.11")
		}, nil, pulumirpc.DiffResponse_DIFF_SOME, map[string]pulumirpc.PropertyDiff_Kind{"connection": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"update added, logging removed", func(m resource.PropertyMap) {
			m["update"] = resource.NewStringProperty("push again")
			delete(m, "logging")
		}, nil, pulumirpc.DiffResponse_DIFF_SOME, map[string]pulumirpc.PropertyDiff_Kind{
			"update": pulumirpc.PropertyDiff_ADD, "logging": pulumirpc.PropertyDiff_DELETE}, nil},
		{"unknown stdin: update", func(m resource.PropertyMap) { m["stdin"] = resource.MakeComputed(resource.NewStringProperty("")) }, nil,
			pulumirpc.DiffResponse_DIFF_SOME, map[string]pulumirpc.PropertyDiff_Kind{"stdin": pulumirpc.PropertyDiff_UPDATE}, nil},
		{"triggers added: replace", func(m resource.PropertyMap) {
			m["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("a")})
		}, nil, pulumirpc.DiffResponse_DIFF_SOME, map[string]pulumirpc.PropertyDiff_Kind{"triggers": pulumirpc.PropertyDiff_ADD_REPLACE}, []string{"triggers"}},
		{"ignoreChanges", func(m resource.PropertyMap) { m["stdin"] = secret("config v2") }, []string{"stdin"},
			pulumirpc.DiffResponse_DIFF_NONE, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			news := checked(t, baseInputs())
			c.mutate(news)
			got := diffInputs(olds, news, c.ignore)
			if got.GetChanges() != c.changes {
				t.Fatalf("changes: got %v, want %v (diffs %v)", got.GetChanges(), c.changes, got.GetDiffs())
			}
			if !got.GetHasDetailedDiff() || len(got.GetDetailedDiff()) != len(c.detailed) {
				t.Fatalf("detailed diff: got %v, want %v", got.GetDetailedDiff(), c.detailed)
			}
			for k, kind := range c.detailed {
				if d := got.GetDetailedDiff()[k]; d == nil || d.GetKind() != kind || !d.GetInputDiff() {
					t.Errorf("%s: got %v, want %v", k, d, kind)
				}
			}
			if strings.Join(got.GetReplaces(), ",") != strings.Join(c.replaces, ",") {
				t.Errorf("replaces: got %v, want %v", got.GetReplaces(), c.replaces)
			}
		})
	}

	// triggers changed, from one value to another: replace
	olds["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("a")})
	news := olds.Copy()
	news["triggers"] = resource.NewArrayProperty([]resource.PropertyValue{resource.NewStringProperty("b")})
	got := diffInputs(olds, news, nil)
	if got.GetDetailedDiff()["triggers"].GetKind() != pulumirpc.PropertyDiff_UPDATE_REPLACE || len(got.GetReplaces()) != 1 {
		t.Fatalf("triggers change: got %v", got)
	}
	// the old state's stdout/stderr are not inputs: no diff
	state := outputsOf(olds, resource.NewStringProperty("out"), resource.NewStringProperty(""))
	if d := diffInputs(inputsOf(state), olds, nil); d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("state vs same inputs: got %v", d.GetDiffs())
	}
}

func TestOutputsKeepSecretsAndMarkConnection(t *testing.T) {
	in := checked(t, baseInputs())
	out := outputsOf(in, resource.NewStringProperty("ok"), resource.NewStringProperty(""))
	if !out["connection"].IsSecret() || !out["stdin"].IsSecret() {
		t.Fatal("connection and secret stdin must be secret in the outputs")
	}
	if out["connection"].SecretValue().Element.ObjectValue()["privateKey"].IsSecret() != true {
		t.Fatal("the nested private key must stay secret")
	}
	if out["stdout"].StringValue() != "ok" || !out["stderr"].IsString() {
		t.Fatalf("stdout/stderr: %v", out)
	}
}

func TestParseArgs(t *testing.T) {
	cases := map[string][2]bool{"": {true, true}, "stdout": {true, false}, "stderr": {false, true},
		"stdoutAndStderr": {true, true}, "none": {false, false}}
	for logging, want := range cases {
		in := checked(t, baseInputs())
		if logging == "" {
			delete(in, "logging")
		} else {
			in["logging"] = resource.NewStringProperty(logging)
		}
		a, err := parseArgs(in)
		if err != nil {
			t.Fatal(err)
		}
		if a.logStdout != want[0] || a.logStderr != want[1] {
			t.Errorf("logging %q: got stdout=%v stderr=%v", logging, a.logStdout, a.logStderr)
		}
		if a.stdin != "config" || *a.conn.privateKey != "KEY" || a.conn.port != 22 || a.conn.user != "root" ||
			!a.addPreviousOutputInEnv || a.update != nil || *a.create != "push" {
			t.Errorf("args: %+v", a)
		}
	}
	in := checked(t, baseInputs())
	in["stdin"] = resource.MakeComputed(resource.NewStringProperty(""))
	if _, err := parseArgs(in); err == nil {
		t.Fatal("unknown inputs cannot run")
	}
}

func TestSchemaIsJSON(t *testing.T) {
	s := schemaJSON()
	if !strings.Contains(s, `"command:remote:Command"`) || !strings.Contains(s, `"version":"`+version+`"`) {
		t.Fatalf("schema: %s", s)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// fakeEngine records what the provider logs.
type fakeEngine struct {
	pulumirpc.UnimplementedEngineServer
	mu   sync.Mutex
	logs []string
}

func (e *fakeEngine) Log(_ context.Context, r *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.logs = append(e.logs, fmt.Sprintf("%s %s", r.GetSeverity(), r.GetMessage()))
	return &emptypb.Empty{}, nil
}

func (e *fakeEngine) all() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return strings.Join(e.logs, "\n")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startSSHD runs the machine's OpenSSH server in the foreground (-D: its daemon mode resets connections
// here) on 127.0.0.1, with a generated host key and one authorized client key. Needs root.
func startSSHD(t *testing.T, dir string) (port int, hostKeyLine, clientKeyPEM string) {
	t.Helper()
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and /usr/sbin/sshd")
	}
	keygen := func(path string) {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "test", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	keygen(filepath.Join(dir, "host"))
	keygen(filepath.Join(dir, "client"))
	pub, _ := os.ReadFile(filepath.Join(dir, "client.pub"))
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	port = freePort(t)
	cfg := fmt.Sprintf(`ListenAddress 127.0.0.1:%d
HostKey %s/host
AuthorizedKeysFile %s/authorized_keys
PidFile none
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
`, port, dir, dir)
	cfgPath := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation folder
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfgPath)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", log.String())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd did not listen: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	hk, _ := os.ReadFile(filepath.Join(dir, "host.pub"))
	ck, _ := os.ReadFile(filepath.Join(dir, "client"))
	return port, strings.TrimSpace(string(hk)), string(ck)
}

// serveProvider serves the provider and a fake engine over gRPC on loopback, as the engine would.
func serveProvider(t *testing.T) (pulumirpc.ResourceProviderClient, *fakeEngine) {
	t.Helper()
	eng := &fakeEngine{}
	engHandle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{Init: func(s *grpc.Server) error {
		pulumirpc.RegisterEngineServer(s, eng)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	prov := newProvider("")
	cancel := make(chan bool)
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{Cancel: cancel, Init: func(s *grpc.Server) error {
		pulumirpc.RegisterResourceProviderServer(s, prov)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", handle.Port), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(); close(cancel); prov.close(); _ = engHandle })
	client := pulumirpc.NewResourceProviderClient(conn)
	hs, err := client.Handshake(context.Background(), &pulumirpc.ProviderHandshakeRequest{
		EngineAddress: fmt.Sprintf("127.0.0.1:%d", engHandle.Port)})
	if err != nil || !hs.GetAcceptSecrets() || !hs.GetAcceptResources() {
		t.Fatalf("handshake: %v %v", hs, err)
	}
	info, err := client.GetPluginInfo(context.Background(), &emptypb.Empty{})
	if err != nil || info.GetVersion() != version {
		t.Fatalf("plugin info: %v %v", info, err)
	}
	cfg, err := client.Configure(context.Background(), &pulumirpc.ConfigureRequest{})
	if err != nil || !cfg.GetAcceptSecrets() {
		t.Fatalf("configure: %v %v", cfg, err)
	}
	return client, eng
}

const testURN = "urn:pulumi:dev::proj::ingress-haproxy:haproxy:HaproxyLoadBalancer$command:remote:Command::lb-1-push"

func TestSSHDThroughGRPC(t *testing.T) {
	dir := t.TempDir()
	port, hostKeyLine, clientPEM := startSSHD(t, dir)
	client, eng := serveProvider(t)
	ctx := context.Background()
	work := filepath.Join(dir, "work")

	inputs := func(stdin, hostKey string) resource.PropertyMap {
		return resource.PropertyMap{
			"connection": resource.NewObjectProperty(resource.PropertyMap{
				"host": resource.NewStringProperty("127.0.0.1"), "port": resource.NewNumberProperty(float64(port)),
				"privateKey": secret(clientPEM), "hostKey": resource.NewStringProperty(hostKey),
				"dialErrorLimit": resource.NewNumberProperty(1), "perDialTimeout": resource.NewNumberProperty(5),
			}),
			// the command prints hashes only, never its stdin (which carries a secret)
			"create":  resource.NewStringProperty("mkdir -p " + work + " && cat > " + work + "/cfg && echo created && sha256sum < " + work + "/cfg | cut -c1-16 && echo warn >&2"),
			"delete":  resource.NewStringProperty("rm -f " + work + "/cfg && echo deleted"),
			"stdin":   secret(stdin),
			"logging": resource.NewStringProperty("stdoutAndStderr"),
		}
	}
	check := func(in resource.PropertyMap) *pulumirpc.CheckResponse {
		s, err := marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Check(ctx, &pulumirpc.CheckRequest{Urn: testURN, News: s})
		if err != nil || len(resp.GetFailures()) != 0 {
			t.Fatalf("check: %v %v", resp.GetFailures(), err)
		}
		return resp
	}

	// preview: nothing runs, stdout/stderr unknown
	in1 := check(inputs("secret-v1\n", hostKeyLine))
	prev, err := client.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: in1.GetInputs(), Preview: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := unmarshal(prev.GetProperties()); !st["stdout"].IsComputed() {
		t.Fatalf("preview stdout should be unknown: %v", st["stdout"])
	}
	if _, err := os.Stat(work); err == nil {
		t.Fatal("preview ran the command")
	}

	// create
	created, err := client.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: in1.GetInputs()})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(work, "cfg"))
	if string(got) != "secret-v1\n" {
		t.Fatalf("stdin did not arrive: %q", got)
	}
	state, _ := unmarshal(created.GetProperties())
	if !strings.HasPrefix(state["stdout"].StringValue(), "created\n") || state["stderr"].StringValue() != "warn" {
		t.Fatalf("outputs: stdout %q stderr %q", state["stdout"].StringValue(), state["stderr"].StringValue())
	}
	if !state["stdin"].IsSecret() || !state["connection"].IsSecret() {
		t.Fatal("stdin and connection must be secret in the state")
	}
	if !strings.HasPrefix(created.GetId(), "lb-1-push") {
		t.Fatalf("id %q", created.GetId())
	}

	// same inputs: no diff; changed stdin: update in place, which runs create again
	in2 := check(inputs("secret-v2\n", hostKeyLine))
	d, err := client.Diff(ctx, &pulumirpc.DiffRequest{Urn: testURN, Id: created.GetId(), Olds: created.GetProperties(), News: in1.GetInputs()})
	if err != nil || d.GetChanges() != pulumirpc.DiffResponse_DIFF_NONE {
		t.Fatalf("diff same: %v %v", d, err)
	}
	d, err = client.Diff(ctx, &pulumirpc.DiffRequest{Urn: testURN, Id: created.GetId(), Olds: created.GetProperties(),
		OldInputs: in1.GetInputs(), News: in2.GetInputs()})
	if err != nil || d.GetChanges() != pulumirpc.DiffResponse_DIFF_SOME || len(d.GetReplaces()) != 0 ||
		strings.Join(d.GetDiffs(), ",") != "stdin" {
		t.Fatalf("diff stdin: %v %v", d, err)
	}
	updated, err := client.Update(ctx, &pulumirpc.UpdateRequest{Urn: testURN, Id: created.GetId(), Olds: created.GetProperties(),
		OldInputs: in1.GetInputs(), News: in2.GetInputs()})
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(work, "cfg")); string(got) != "secret-v2\n" {
		t.Fatalf("update: %q", got)
	}
	ustate, _ := unmarshal(updated.GetProperties())
	if ustate["stdout"].StringValue() == state["stdout"].StringValue() {
		t.Fatal("update should have new stdout (new hash)")
	}

	// read returns the state as is
	rd, err := client.Read(ctx, &pulumirpc.ReadRequest{Urn: testURN, Id: created.GetId(), Properties: updated.GetProperties(), Inputs: in2.GetInputs()})
	if err != nil || rd.GetId() != created.GetId() {
		t.Fatalf("read: %v %v", rd, err)
	}

	// delete
	if _, err := client.Delete(ctx, &pulumirpc.DeleteRequest{Urn: testURN, Id: created.GetId(), Properties: updated.GetProperties()}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "cfg")); !os.IsNotExist(err) {
		t.Fatalf("delete did not run: %v", err)
	}

	logs := eng.all()
	for _, want := range []string{"INFO created", "INFO warn", "INFO deleted"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	// sshd refuses env (no AcceptEnv): the previous output cannot be passed, a warning says so
	if !strings.Contains(logs, "WARNING Unable to set 'PULUMI_COMMAND_STDOUT'") {
		t.Errorf("log lacks the AcceptEnv warning:\n%s", logs)
	}
	for _, secretText := range []string{"secret-v1", "secret-v2", "PRIVATE KEY"} {
		if strings.Contains(logs, secretText) {
			t.Fatalf("an input reached the log (%q):\n%s", secretText, logs)
		}
	}

	// a wrong pinned host key fails before anything runs
	otherPub, _ := newKey(t)
	in3 := check(inputs("secret-v3\n", authorizedLine(otherPub)))
	_, err = client.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: in3.GetInputs()})
	if err == nil || !strings.Contains(err.Error(), "host key mismatch") {
		t.Fatalf("want a host key mismatch, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "cfg")); !os.IsNotExist(err) {
		t.Fatal("a command ran despite the wrong host key")
	}

	// a failing command: its exit status and stderr in the error
	fail := inputs("x", hostKeyLine)
	fail["create"] = resource.NewStringProperty("echo broken config >&2; exit 7")
	_, err = client.Create(ctx, &pulumirpc.CreateRequest{Urn: testURN, Properties: check(fail).GetInputs()})
	if err == nil || !strings.Contains(err.Error(), "exit status 7") || !strings.Contains(err.Error(), "broken config") {
		t.Fatalf("want exit status 7 with stderr, got %v", err)
	}
}

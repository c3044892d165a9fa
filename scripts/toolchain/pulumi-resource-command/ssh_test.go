package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) (ssh.Signer, string) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return signer, string(pem.EncodeToMemory(block))
}

func authorizedLine(s ssh.Signer) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.PublicKey())))
}

// fakeServer is an in-process SSH server: "exec" writes "ran <cmd>" and the stdin back to stdout,
// "fail" in the command exits 3 with a line on stderr; env requests are refused (no AcceptEnv).
type fakeServer struct {
	addr  string
	execs atomic.Int32
}

func startFakeServer(t *testing.T, hostKey ssh.Signer, clientKey ssh.PublicKey) *fakeServer {
	t.Helper()
	cfg := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if string(k.Marshal()) == string(clientKey.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}}
	cfg.AddHostKey(hostKey)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s := &fakeServer{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg)
		}
	}()
	return s
}

func (s *fakeServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	_, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go func() {
			defer ch.Close()
			for r := range chReqs {
				if r.Type != "exec" {
					_ = r.Reply(false, nil)
					continue
				}
				s.execs.Add(1)
				cmd := string(r.Payload[4:])
				_ = r.Reply(true, nil)
				in, _ := io.ReadAll(ch)
				_, _ = io.WriteString(ch, "ran "+cmd+"\n"+string(in))
				status := uint32(0)
				if strings.Contains(cmd, "fail") {
					_, _ = io.WriteString(ch.Stderr(), "it failed\n")
					status = 3
				}
				payload := make([]byte, 4)
				binary.BigEndian.PutUint32(payload, status)
				_, _ = ch.SendRequest("exit-status", false, payload)
				return
			}
		}()
	}
}

func testConnection(t *testing.T, addr, privateKey string, hostKey *string) connection {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return connection{host: host, port: p, user: "root", privateKey: &privateKey, hostKey: hostKey,
		dialErrorLimit: 2, perDialTimeout: 5}
}

func TestRunWithPinnedHostKey(t *testing.T) {
	hostKey, _ := newKey(t)
	clientKey, clientPEM := newKey(t)
	srv := startFakeServer(t, hostKey, clientKey.PublicKey())
	pinned := authorizedLine(hostKey) + " lb-1"
	var logged []string
	a := commandArgs{conn: testConnection(t, srv.addr, clientPEM, &pinned), stdin: "the config\n",
		logStdout: true, logStderr: true, addPreviousOutputInEnv: true, prevStdout: "old"}
	var warnings []string
	hooks := runHooks{logLine: func(stream, l string) { logged = append(logged, stream+": "+l) },
		warn: func(w string) { warnings = append(warnings, w) }}
	out, errOut, err := runCommand(context.Background(), a, "create", "push", hooks)
	if err != nil {
		t.Fatal(err)
	}
	if out != "ran push\nthe config" || errOut != "" {
		t.Fatalf("stdout %q stderr %q", out, errOut)
	}
	if strings.Join(logged, "|") != "stdout: ran push|stdout: the config" {
		t.Fatalf("logged: %q", logged)
	}
	// the server refuses env: PULUMI_COMMAND_STDOUT is a warning, not an error (as the real provider)
	if len(warnings) != 1 || !strings.Contains(warnings[0], "PULUMI_COMMAND_STDOUT") || strings.Contains(warnings[0], "old") {
		t.Fatalf("warnings: %q", warnings)
	}

	// a failing command: exit status and stderr in the error; logging none logs nothing
	logged = nil
	a.logStdout, a.logStderr = false, false
	_, _, err = runCommand(context.Background(), a, "update", "fail", hooks)
	var ee *exitError
	if !errors.As(err, &ee) || ee.status != "exit status 3" || strings.Contains(err.Error(), "it failed") {
		t.Fatalf("err: %v", err)
	}
	if len(logged) != 0 {
		t.Fatalf("logging none logged %q", logged)
	}
	a.logStderr = true
	_, _, err = runCommand(context.Background(), a, "update", "fail", hooks)
	if err == nil || !strings.Contains(err.Error(), "exit status 3; stderr:\nit failed") {
		t.Fatalf("err: %v", err)
	}
	if strings.Join(logged, "|") != "stderr: it failed" {
		t.Fatalf("logged: %q", logged)
	}
}

func TestHostKeyMismatchRunsNothing(t *testing.T) {
	hostKey, _ := newKey(t)
	otherKey, _ := newKey(t)
	clientKey, clientPEM := newKey(t)
	srv := startFakeServer(t, hostKey, clientKey.PublicKey())
	pinned := authorizedLine(otherKey)
	a := commandArgs{conn: testConnection(t, srv.addr, clientPEM, &pinned)}
	a.conn.dialErrorLimit = 10
	start := time.Now()
	_, _, err := runCommand(context.Background(), a, "create", "push", runHooks{})
	var mm *hostKeyMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("want a host key mismatch, got %v", err)
	}
	if srv.execs.Load() != 0 {
		t.Fatal("a command ran despite the host key mismatch")
	}
	if time.Since(start) > 2*time.Second {
		t.Fatal("a host key mismatch must not be retried")
	}
	if !strings.Contains(err.Error(), ssh.FingerprintSHA256(hostKey.PublicKey())) {
		t.Fatalf("the error should name the presented key: %v", err)
	}

	// without hostKey, any host key is accepted (as the real provider)
	a.conn.hostKey = nil
	if _, _, err := runCommand(context.Background(), a, "create", "push", runHooks{}); err != nil {
		t.Fatal(err)
	}
	if srv.execs.Load() != 1 {
		t.Fatalf("execs: %d", srv.execs.Load())
	}
}

func TestDialRetriesUpToTheLimit(t *testing.T) {
	// a server that accepts TCP and hangs up at once: every dial fails
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var accepts atomic.Int32
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			c.Close()
		}
	}()
	_, clientPEM := newKey(t)
	c := testConnection(t, l.Addr().String(), clientPEM, nil)
	c.dialErrorLimit = 2
	var statuses []string
	_, err = dial(context.Background(), c, func(s string) { statuses = append(statuses, s) })
	if err == nil || !strings.Contains(err.Error(), "after 3 failed attempts") {
		t.Fatalf("err: %v", err)
	}
	if accepts.Load() != 3 || len(statuses) != 2 || statuses[1] != "Dial 2/2 failed: retrying" {
		t.Fatalf("accepts %d, statuses %q", accepts.Load(), statuses)
	}

	// perDialTimeout bounds the handshake too: a server that never speaks
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	defer l2.Close()
	go func() {
		for {
			c, err := l2.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	c = testConnection(t, l2.Addr().String(), clientPEM, nil)
	c.dialErrorLimit, c.perDialTimeout = 0, 1
	start := time.Now()
	if _, err := dial(context.Background(), c, nil); err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
}

func TestClientConfigErrors(t *testing.T) {
	bad := "not a key"
	if _, err := clientConfig(connection{user: "root", privateKey: &bad}, new(error)); err == nil ||
		strings.Contains(err.Error(), bad) {
		t.Fatalf("a bad private key must fail without quoting it: %v", err)
	}
	if _, err := clientConfig(connection{user: "root"}, new(error)); err == nil {
		t.Fatal("no authentication method must fail")
	}
}

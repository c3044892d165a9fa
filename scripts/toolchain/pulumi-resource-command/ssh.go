package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// parseHostKey reads a pinned host key in authorized_keys format ('ssh-ed25519 AAAA... [comment]').
func parseHostKey(s string) (ssh.PublicKey, error) {
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("connection.hostKey: cannot parse %q as an authorized_keys line ('TYPE BASE64'): %w",
			truncate(s, 40), err)
	}
	return key, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// hostKeyMismatchError: the server presented another key than the pinned one. Never retried.
type hostKeyMismatchError struct {
	addr, want, got string
}

func (e *hostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: the server presented %s, connection.hostKey pins %s; "+
		"nothing was run", e.addr, e.got, e.want)
}

// hostKeyAlgorithms are the algorithms to ask the server for, so that it presents the pinned key's type.
func hostKeyAlgorithms(key ssh.PublicKey) []string {
	if key.Type() == ssh.KeyAlgoRSA { // an RSA key signs with SHA-2 on current servers
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{key.Type()}
}

// clientConfig builds the SSH client settings. mismatch receives the error of a refused host key.
func clientConfig(c connection, mismatch *error) (*ssh.ClientConfig, error) {
	cfg := &ssh.ClientConfig{User: c.user}
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	if c.hostKey != nil {
		want, err := parseHostKey(*c.hostKey)
		if err != nil {
			return nil, err
		}
		cfg.HostKeyAlgorithms = hostKeyAlgorithms(want)
		cfg.HostKeyCallback = func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			*mismatch = &hostKeyMismatchError{
				addr: addr,
				want: want.Type() + " " + ssh.FingerprintSHA256(want),
				got:  got.Type() + " " + ssh.FingerprintSHA256(got),
			}
			return *mismatch
		}
	} else {
		// As the real provider: without connection.hostKey, any host key is accepted.
		cfg.HostKeyCallback = ssh.InsecureIgnoreHostKey() //nolint:gosec // documented behaviour
	}
	if c.privateKey != nil {
		var signer ssh.Signer
		var err error
		if c.privateKeyPassword != nil {
			signer, err = ssh.ParsePrivateKeyWithPassphrase([]byte(*c.privateKey), []byte(*c.privateKeyPassword))
		} else {
			signer, err = ssh.ParsePrivateKey([]byte(*c.privateKey))
		}
		if err != nil {
			// never quote the key itself
			return nil, fmt.Errorf("connection.privateKey: %w", err)
		}
		cfg.Auth = append(cfg.Auth, ssh.PublicKeys(signer))
	}
	if c.password != nil {
		pw := *c.password
		cfg.Auth = append(cfg.Auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(cfg.Auth) == 0 {
		return nil, errors.New("connection: set privateKey or password (this stand-in uses no SSH agent)")
	}
	return cfg, nil
}

// dialOnce connects and completes the SSH handshake within perDialTimeout (0: no limit).
func dialOnce(ctx context.Context, addr string, cfg *ssh.ClientConfig, timeout time.Duration) (*ssh.Client, error) {
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if timeout > 0 {
		_ = conn.SetDeadline(time.Now().Add(timeout))
	}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return ssh.NewClient(c, chans, reqs), nil
}

// retryDelay: 100 ms, then x1.5 per attempt, at most 5 s (the engine SDK's retry defaults, which the
// real provider uses).
func retryDelay(attempt int) time.Duration {
	d := 100 * time.Millisecond
	for i := 0; i < attempt && d < 5*time.Second; i++ {
		d = d * 3 / 2
	}
	return min(d, 5*time.Second)
}

// dial connects with retries: as the real provider, dialErrorLimit failed dials are tolerated (the
// next failure ends it; -1: no limit). A host-key mismatch or an unusable key ends it at once.
func dial(ctx context.Context, c connection, status func(string)) (*ssh.Client, error) {
	var mismatch error
	cfg, err := clientConfig(c, &mismatch)
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(c.host, strconv.Itoa(c.port))
	timeout := time.Duration(c.perDialTimeout) * time.Second
	for attempt := 0; ; attempt++ {
		mismatch = nil
		client, err := dialOnce(ctx, addr, cfg, timeout)
		if err == nil {
			return client, nil
		}
		if mismatch != nil {
			return nil, mismatch
		}
		failed := attempt + 1
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
		}
		if c.dialErrorLimit >= 0 && failed > c.dialErrorLimit {
			return nil, fmt.Errorf("dial %s: after %d failed attempts: %w", addr, failed, err)
		}
		limit := "inf"
		if c.dialErrorLimit >= 0 {
			limit = strconv.Itoa(c.dialErrorLimit)
		}
		if status != nil {
			status(fmt.Sprintf("Dial %d/%s failed: retrying", failed, limit))
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("dial %s: %w", addr, ctx.Err())
		case <-time.After(retryDelay(attempt)):
		}
	}
}

// lineWriter hands each complete line to emit; Flush emits an unterminated last line.
type lineWriter struct {
	mu   sync.Mutex
	buf  []byte
	emit func(string)
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.emit(strings.TrimSuffix(string(w.buf[:i]), "\r"))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(string(w.buf))
		w.buf = nil
	}
}

// runHooks are the engine-facing side effects of a run: logging of output lines, warnings, status.
type runHooks struct {
	logLine func(stream, line string) // a line of the command's output (only as `logging` allows)
	warn    func(string)
	status  func(string)
}

// exitError: the command ran and failed (or the session ended without an exit status).
type exitError struct {
	which  string // create, update or delete
	status string
	stderr string
	shown  bool // false when `logging` keeps stderr out of logs: the error does not carry it either
}

func (e *exitError) Error() string {
	msg := fmt.Sprintf("%s command failed on the remote host: %s", e.which, e.status)
	switch {
	case !e.shown:
		msg += " (stderr not shown: `logging` excludes stderr)"
	case e.stderr == "":
		msg += " (stderr was empty)"
	default:
		msg += "; stderr:\n" + e.stderr
	}
	return msg
}

// runCommand runs cmd over SSH with the inputs' stdin and environment and returns stdout and stderr
// (one trailing newline dropped, as the real provider does).
func runCommand(ctx context.Context, a commandArgs, which, cmd string, hooks runHooks) (string, string, error) {
	client, err := dial(ctx, a.conn, hooks.status)
	if err != nil {
		return "", "", err
	}
	defer client.Close()
	stop := context.AfterFunc(ctx, func() { client.Close() }) // cancellation ends the session
	defer stop()

	session, err := client.NewSession()
	if err != nil {
		return "", "", fmt.Errorf("ssh session: %w", err)
	}
	defer session.Close()

	for k, v := range a.environment {
		if err := session.Setenv(k, v); err != nil {
			return "", "", fmt.Errorf("could not set environment variable %q (the SSH server must accept it with "+
				"AcceptEnv; or prefix the command with VAR=value): %w", k, err)
		}
	}
	if a.addPreviousOutputInEnv {
		for _, e := range []struct{ name, value string }{
			{"PULUMI_COMMAND_STDOUT", a.prevStdout}, {"PULUMI_COMMAND_STDERR", a.prevStderr},
		} {
			if e.value == "" {
				continue
			}
			if err := session.Setenv(e.name, e.value); err != nil && hooks.warn != nil {
				hooks.warn(fmt.Sprintf("Unable to set '%s'. This only works if your SSH server is configured to "+
					"accept these variables via AcceptEnv (or set addPreviousOutputInEnv: false).", e.name))
			}
		}
	}
	if a.stdin != "" {
		session.Stdin = strings.NewReader(a.stdin)
	}

	var stdout, stderr bytes.Buffer
	outW, errW := io.Writer(&stdout), io.Writer(&stderr)
	var flushers []*lineWriter
	if a.logStdout && hooks.logLine != nil {
		lw := &lineWriter{emit: func(l string) { hooks.logLine("stdout", l) }}
		flushers = append(flushers, lw)
		outW = io.MultiWriter(&stdout, lw)
	}
	if a.logStderr && hooks.logLine != nil {
		lw := &lineWriter{emit: func(l string) { hooks.logLine("stderr", l) }}
		flushers = append(flushers, lw)
		errW = io.MultiWriter(&stderr, lw)
	}
	session.Stdout, session.Stderr = outW, errW

	err = session.Run(cmd)
	for _, f := range flushers {
		f.Flush()
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", "", fmt.Errorf("%s command: %w", which, ctx.Err())
		}
		var ee *ssh.ExitError
		var missing *ssh.ExitMissingError
		status := err.Error()
		switch {
		case errors.As(err, &ee):
			status = fmt.Sprintf("exit status %d", ee.ExitStatus())
			if ee.Signal() != "" {
				status = "killed by signal " + ee.Signal()
			}
		case errors.As(err, &missing):
			status = "the session ended without an exit status"
		default:
			return "", "", fmt.Errorf("%s command: %w", which, err)
		}
		return "", "", &exitError{which: which, status: status,
			stderr: strings.TrimSuffix(stderr.String(), "\n"), shown: a.logStderr}
	}
	return strings.TrimSuffix(stdout.String(), "\n"), strings.TrimSuffix(stderr.String(), "\n"), nil
}

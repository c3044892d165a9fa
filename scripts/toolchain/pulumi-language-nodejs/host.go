package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"google.golang.org/protobuf/types/known/emptypb"

	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// exitBail is the run script's exit code after it has already logged a user-facing error: the engine
// must stop without printing a second, generic error.
const exitBail = 32

type nodeHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func (h *nodeHost) Handshake(
	_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engineAddress = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *nodeHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *nodeHost) About(context.Context, *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found on PATH: %w", err)
	}
	out, err := exec.Command(node, "--version").Output()
	if err != nil {
		return nil, fmt.Errorf("node --version: %w", err)
	}
	return &pulumirpc.AboutResponse{
		Executable: node,
		Version:    strings.TrimPrefix(strings.TrimSpace(string(out)), "v"),
	}, nil
}

// pluginSection is the "pulumi" section of a Pulumi package's package.json.
type pluginSection struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

// requiredPackages lists the resource plugins of the packages installed in the program's node_modules
// (top level and one scope level deep: where npm puts direct dependencies).
func requiredPackages(programDir string) ([]*pulumirpc.PackageDependency, error) {
	nm, err := findUp(programDir, "node_modules")
	if err != nil {
		return nil, err
	}
	var manifests []string
	for _, pattern := range []string{"*/package.json", "@*/*/package.json"} {
		found, err := filepath.Glob(filepath.Join(nm, pattern))
		if err != nil {
			return nil, err
		}
		manifests = append(manifests, found...)
	}
	sort.Strings(manifests)
	seen := map[string]bool{}
	var deps []*pulumirpc.PackageDependency
	for _, m := range manifests {
		raw, err := os.ReadFile(m)
		if err != nil {
			return nil, err
		}
		var pkg struct {
			Name    string         `json:"name"`
			Version string         `json:"version"`
			Pulumi  *pluginSection `json:"pulumi"`
		}
		if err := json.Unmarshal(raw, &pkg); err != nil {
			return nil, fmt.Errorf("%s: %w", m, err)
		}
		if pkg.Pulumi == nil || !pkg.Pulumi.Resource {
			continue
		}
		name := pkg.Pulumi.Name
		if name == "" { // older packages: @pulumi/<name>
			name = strings.TrimPrefix(pkg.Name, "@pulumi/")
		}
		v := pkg.Pulumi.Version
		if v == "" {
			v = pkg.Version
		}
		v = "v" + strings.TrimPrefix(v, "v")
		if key := name + "@" + v; !seen[key] {
			seen[key] = true
			deps = append(deps, &pulumirpc.PackageDependency{
				Kind: "resource", Name: name, Version: v, Server: pkg.Pulumi.Server,
			})
		}
	}
	return deps, nil
}

func programDir(info *pulumirpc.ProgramInfo, pwd string) string {
	if d := info.GetProgramDirectory(); d != "" {
		return d
	}
	return pwd
}

func (h *nodeHost) GetRequiredPackages(
	_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	deps, err := requiredPackages(programDir(req.GetInfo(), ""))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: deps}, nil
}

func (h *nodeHost) GetRequiredPlugins(
	_ context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	deps, err := requiredPackages(programDir(req.GetInfo(), req.GetPwd()))
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(deps))
	for _, d := range deps {
		plugins = append(plugins, &pulumirpc.PluginDependency{
			Name: d.GetName(), Kind: d.GetKind(), Version: d.GetVersion(), Server: d.GetServer(),
		})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// findUp returns dir/name or the nearest such entry in a parent of dir.
func findUp(dir, name string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no %s in %s or any parent: run `npm ci` first", name, dir)
		}
		d = parent
	}
}

// runOptions are the Pulumi.yaml `runtime.options` this host understands.
type runOptions struct {
	typescript bool
	tsconfig   string
	nodeargs   []string
}

func parseOptions(info *pulumirpc.ProgramInfo) runOptions {
	o := runOptions{typescript: true}
	m := info.GetOptions().AsMap()
	if v, ok := m["typescript"].(bool); ok {
		o.typescript = v
	}
	if v, ok := m["tsconfig"].(string); ok {
		o.tsconfig = v
	}
	if v, ok := m["nodeargs"].(string); ok {
		o.nodeargs = strings.Fields(v)
	}
	return o
}

func (h *nodeHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	pwd := req.GetPwd()
	dir := programDir(req.GetInfo(), pwd)
	if pwd == "" {
		pwd = dir
	}
	opts := parseOptions(req.GetInfo())

	nm, err := findUp(dir, "node_modules")
	if err != nil {
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	runScript := filepath.Join(nm, "@pulumi", "pulumi", "cmd", "run")
	if _, err := os.Stat(runScript); err != nil {
		return &pulumirpc.RunResponse{
			Error: fmt.Sprintf("@pulumi/pulumi is not installed in %s: run `npm ci` first", nm),
		}, nil
	}

	program := req.GetInfo().GetEntryPoint()
	if program == "" {
		program = req.GetProgram()
	}
	if program == "" {
		program = "."
	}

	args := append([]string{}, opts.nodeargs...)
	args = append(args, runScript, "--monitor="+req.GetMonitorAddress())
	if h.engineAddress != "" {
		args = append(args, "--engine="+h.engineAddress)
	}
	for flag, value := range map[string]string{
		"organization":   req.GetOrganization(),
		"project":        req.GetProject(),
		"stack":          req.GetStack(),
		"pwd":            pwd,
		"root-directory": req.GetInfo().GetRootDirectory(),
	} {
		if value != "" {
			args = append(args, "--"+flag+"="+value)
		}
	}
	if req.GetParallel() > 0 {
		args = append(args, "--parallel="+strconv.Itoa(int(req.GetParallel())))
	}
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	args = append(args, program)
	args = append(args, req.GetArgs()...)

	cfg, err := json.Marshal(req.GetConfig())
	if err != nil {
		return nil, err
	}
	secretKeys := req.GetConfigSecretKeys()
	if secretKeys == nil {
		secretKeys = []string{}
	}
	keys, err := json.Marshal(secretKeys)
	if err != nil {
		return nil, err
	}

	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = pwd
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"PULUMI_CONFIG="+string(cfg),
		"PULUMI_CONFIG_SECRET_KEYS="+string(keys),
		"PULUMI_NODEJS_TYPESCRIPT="+strconv.FormatBool(opts.typescript),
	)
	if opts.tsconfig != "" {
		cmd.Env = append(cmd.Env, "PULUMI_NODEJS_TSCONFIG_PATH="+opts.tsconfig)
	}
	if err := cmd.Run(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			if exit.ExitCode() == exitBail {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exit.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not start node: %v", err)}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

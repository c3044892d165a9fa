package main

import (
	"context"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const commandType = "command:remote:Command"

type commandProvider struct {
	pulumirpc.UnimplementedResourceProviderServer

	mu            sync.Mutex
	engineAddress string
	engine        pulumirpc.EngineClient
	engineConn    *grpc.ClientConn

	ctx    context.Context // cancelled by Cancel: running commands stop
	cancel context.CancelFunc
}

func newProvider(engineAddress string) *commandProvider {
	ctx, cancel := context.WithCancel(context.Background())
	return &commandProvider{engineAddress: engineAddress, ctx: ctx, cancel: cancel}
}

// ---- engine logging ------------------------------------------------------------------------------

func (p *commandProvider) engineClient() pulumirpc.EngineClient {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engine == nil && p.engineAddress != "" {
		conn, err := grpc.NewClient(p.engineAddress, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err == nil {
			p.engineConn, p.engine = conn, pulumirpc.NewEngineClient(conn)
		}
	}
	return p.engine
}

func (p *commandProvider) log(sev pulumirpc.LogSeverity, urn, msg string, ephemeral bool) {
	if e := p.engineClient(); e != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, _ = e.Log(ctx, &pulumirpc.LogRequest{Severity: sev, Message: msg, Urn: urn, Ephemeral: ephemeral})
	}
}

// hooks send the command's output lines (never its inputs) and warnings to the engine for one resource.
func (p *commandProvider) hooks(urn string) runHooks {
	return runHooks{
		logLine: func(_, line string) { p.log(pulumirpc.LogSeverity_INFO, urn, line, false) },
		warn:    func(msg string) { p.log(pulumirpc.LogSeverity_WARNING, urn, msg, false) },
		status:  func(msg string) { p.log(pulumirpc.LogSeverity_INFO, urn, msg, true) },
	}
}

// ---- marshalling ---------------------------------------------------------------------------------

var (
	// What the engine sends: secrets and unknowns are kept as such (acceptSecrets).
	unmarshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true, SkipNulls: true}
	marshalOpts   = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, KeepResources: true}
)

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	m, err := plugin.UnmarshalProperties(s, unmarshalOpts)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "cannot read properties: %v", err)
	}
	return m, nil
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func checkType(urn string) error {
	u, err := resource.ParseURN(urn)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "bad URN %q: %v", urn, err)
	}
	if t := string(u.Type()); t != commandType {
		return status.Errorf(codes.InvalidArgument,
			"unknown resource type %q: this stand-in command provider implements only %s", t, commandType)
	}
	return nil
}

func opContext(parent context.Context, timeoutSeconds float64) (context.Context, context.CancelFunc) {
	if timeoutSeconds > 0 {
		return context.WithTimeout(parent, time.Duration(timeoutSeconds*float64(time.Second)))
	}
	return context.WithCancel(parent)
}

// ---- plugin and provider configuration -----------------------------------------------------------

func (p *commandProvider) Handshake(
	_ context.Context, req *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	if a := req.GetEngineAddress(); a != "" {
		p.mu.Lock()
		p.engineAddress = a
		p.mu.Unlock()
	}
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true}, nil
}

func (p *commandProvider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *commandProvider) GetSchema(_ context.Context, req *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	if req.GetSubpackageName() != "" {
		return nil, status.Errorf(codes.NotFound, "no subpackage %q", req.GetSubpackageName())
	}
	return &pulumirpc.GetSchemaResponse{Schema: schemaJSON()}, nil
}

// The command provider has no configuration of its own: whatever the engine passes is accepted.
func (p *commandProvider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.GetNews()}, nil
}

func (p *commandProvider) DiffConfig(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}
	if !plainMap(olds).DeepEquals(plainMap(news)) {
		resp.Changes = pulumirpc.DiffResponse_DIFF_SOME // nothing to replace: the provider keeps no state
	}
	return resp, nil
}

func (p *commandProvider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, AcceptResources: true, SupportsPreview: true}, nil
}

func (p *commandProvider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	p.cancel()
	return &emptypb.Empty{}, nil
}

// ---- command:remote:Command ----------------------------------------------------------------------

func (p *commandProvider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	checked, failures := checkInputs(news)
	out, err := marshal(checked)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: out, Failures: failures}, nil
}

func (p *commandProvider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	// The old inputs when the engine sends them, else the inputs part of the old state.
	oldStruct := req.GetOldInputs()
	if oldStruct == nil || len(oldStruct.GetFields()) == 0 {
		oldStruct = req.GetOlds()
	}
	olds, err := unmarshal(oldStruct)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	return diffInputs(inputsOf(olds), news, req.GetIgnoreChanges()), nil
}

func resourceName(urn, name string) string {
	if name != "" {
		return name
	}
	if u, err := resource.ParseURN(urn); err == nil {
		return u.Name()
	}
	return "command"
}

func (p *commandProvider) Create(ctx context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	inputs, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	id, err := resource.NewUniqueHex(resourceName(req.GetUrn(), req.GetName()), 8, 0)
	if err != nil {
		return nil, err
	}
	computed := resource.MakeComputed(resource.NewStringProperty(""))
	var state resource.PropertyMap
	if req.GetPreview() {
		if present(inputs, "create") {
			state = outputsOf(inputs, computed, computed)
		} else {
			state = outputsOf(inputs, resource.NewStringProperty(""), resource.NewStringProperty(""))
		}
	} else {
		args, err := parseArgs(inputs)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		stdout, stderr := "", ""
		if args.create != nil {
			rctx, cancel := opContext(p.ctx, req.GetTimeout())
			defer cancel()
			stdout, stderr, err = runCommand(rctx, args, "create", *args.create, p.hooks(req.GetUrn()))
			if err != nil {
				return nil, err
			}
		}
		state = outputsOf(inputs, resource.NewStringProperty(stdout), resource.NewStringProperty(stderr))
	}
	props, err := marshal(state)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

func (p *commandProvider) Update(ctx context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	olds, err := unmarshal(req.GetOlds())
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.GetNews())
	if err != nil {
		return nil, err
	}
	// Without an update or create command, stdout and stderr of the last run stay.
	stdout, stderr := olds["stdout"], olds["stderr"]
	if stdout.IsNull() {
		stdout = resource.NewStringProperty("")
	}
	if stderr.IsNull() {
		stderr = resource.NewStringProperty("")
	}
	runs := present(news, "update") || present(news, "create")
	if req.GetPreview() {
		if runs {
			computed := resource.MakeComputed(resource.NewStringProperty(""))
			stdout, stderr = computed, computed
		}
	} else if runs {
		args, err := parseArgs(news)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "%v", err)
		}
		prev, _ := parseArgs(olds) // for PULUMI_COMMAND_STDOUT / _STDERR
		args.prevStdout, args.prevStderr = prev.prevStdout, prev.prevStderr
		which, cmd := "update", args.update
		if cmd == nil {
			which, cmd = "create", args.create
		}
		rctx, cancel := opContext(p.ctx, req.GetTimeout())
		defer cancel()
		out, errOut, err := runCommand(rctx, args, which, *cmd, p.hooks(req.GetUrn()))
		if err != nil {
			return nil, err
		}
		stdout, stderr = resource.NewStringProperty(out), resource.NewStringProperty(errOut)
	}
	props, err := marshal(outputsOf(news, stdout, stderr))
	if err != nil {
		return nil, err
	}
	return &pulumirpc.UpdateResponse{Properties: props}, nil
}

func (p *commandProvider) Delete(ctx context.Context, req *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	state, err := unmarshal(req.GetProperties())
	if err != nil {
		return nil, err
	}
	if !present(state, "delete") {
		return &emptypb.Empty{}, nil
	}
	args, err := parseArgs(state)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "%v", err)
	}
	rctx, cancel := opContext(p.ctx, req.GetTimeout())
	defer cancel()
	if _, _, err := runCommand(rctx, args, "delete", *args.delete, p.hooks(req.GetUrn())); err != nil {
		return nil, err
	}
	return &emptypb.Empty{}, nil
}

// Read returns the state as it is: the real provider has no Read either (a command cannot be read back).
func (p *commandProvider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	if err := checkType(req.GetUrn()); err != nil {
		return nil, err
	}
	return &pulumirpc.ReadResponse{Id: req.GetId(), Properties: req.GetProperties(), Inputs: req.GetInputs()}, nil
}

func (p *commandProvider) close() {
	p.cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.engineConn != nil {
		_ = p.engineConn.Close()
	}
}

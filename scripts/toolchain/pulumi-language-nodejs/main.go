// Command pulumi-language-nodejs is a small stand-in for Pulumi's Node.js language host.
//
// Upstream's host (module github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3) is not
// served by the Go module proxy this project can reach, so `pulumi preview/up/destroy` of the
// TypeScript program would have no way to start it. This host implements the part of the
// LanguageRuntime gRPC service that those commands use, against the documented contract of the
// run script shipped in the npm package @pulumi/pulumi (node_modules/@pulumi/pulumi/cmd/run):
//
//   - Run: starts `node [nodeargs] <@pulumi/pulumi>/cmd/run --monitor=... --engine=... <program>` in the
//     program directory with the stack config in PULUMI_CONFIG / PULUMI_CONFIG_SECRET_KEYS, and
//     TypeScript handled by the run script itself (PULUMI_NODEJS_TYPESCRIPT, ..._TSCONFIG_PATH).
//   - GetRequiredPackages / GetRequiredPlugins: the resource plugins named by the "pulumi" section of
//     each package.json in node_modules, so the engine loads them up front.
//   - Handshake, GetPluginInfo, About.
//
// Not implemented (the engine reports them as unsupported): InstallDependencies (`pulumi install`;
// run `npm ci` instead), `pulumi new` prompts and templates, program generation, packing, policy packs
// and plugins written in Node.js. Only for the project's local engine tests; production uses the CLI
// distribution's own host.
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags "-X main.version=..." to the Pulumi version it is built against.
var version = "0.0.0-dev"

func main() {
	// Flags older engines pass; accepted and ignored (options come from Pulumi.yaml via ProgramInfo).
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.String("root", "", "project root (ignored)")
	flag.Bool("typescript", true, "ignored: use runtime option typescript")
	flag.String("tsconfig", "", "ignored: use runtime option tsconfig")
	flag.String("nodeargs", "", "ignored: use runtime option nodeargs")
	flag.String("packagemanager", "", "ignored")
	flag.Parse()

	host := &nodeHost{}
	if flag.NArg() > 0 {
		host.engineAddress = flag.Arg(0)
	}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: could not start the language host: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
		os.Exit(1)
	}
}

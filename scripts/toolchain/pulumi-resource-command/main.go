// Command pulumi-resource-command is a small stand-in for Pulumi's command provider (@pulumi/command
// 1.2.1), implementing only the resource this project uses: command:remote:Command.
//
// Upstream's provider (module github.com/pulumi/pulumi-command/provider) is not served by the Go
// module proxy this project can reach, so the locally built engine could not run the program's
// haproxy.cfg and keepalived pushes. This provider implements the ResourceProvider gRPC service for
// command:remote:Command with the real provider's documented semantics (see README.md for the exact
// subset and the differences). Only for the project's local engine tests; production installs the
// real plugin (`pulumi plugin install resource command 1.2.1`).
package main

import (
	"flag"
	"fmt"
	"os"

	"google.golang.org/grpc"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// version is set with -ldflags "-X main.version=..." to the @pulumi/command version it stands in for.
var version = "1.2.1"

func main() {
	// Flags the engine may pass; accepted and ignored (--logtostderr and -v are glog's, registered by the SDK).
	flag.String("tracing", "", "tracing endpoint (ignored)")
	flag.Bool("logflow", false, "ignored")
	flag.Parse()

	engineAddress := ""
	if flag.NArg() > 0 { // older engines pass their address as the first argument; Handshake also does
		engineAddress = flag.Arg(0)
	}
	prov := newProvider(engineAddress)
	defer prov.close()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, prov)
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: could not start the provider: %v\n", err)
		os.Exit(1)
	}
	// The engine reads the port from the first line of stdout.
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-command: %v\n", err)
		os.Exit(1)
	}
}

// Command pulumi-resource-aws is a stand-in for the Pulumi AWS provider
// (pulumi-aws 7.48.0) used by panka's tests. It is a TEST FIXTURE, never
// shipped: it speaks the real provider gRPC protocol and serves the real
// package schema, but keeps resources as JSON files in a fake cloud
// directory ($FAKE_AWS_DIR) instead of calling AWS. See README.md.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/provider"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

const providerVersion = "7.48.0"

func main() {
	// SIGINT/SIGTERM end the process's context: a FAKE_AWS_HANG operation
	// returns, and the gRPC server can stop.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := provider.MainContext(ctx, "aws", func(*provider.HostClient) (pulumirpc.ResourceProviderServer, error) {
		return newServer(ctx)
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-aws (stand-in): %v\n", err)
		os.Exit(1)
	}
}

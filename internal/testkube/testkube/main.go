// Command testkube starts the e2e-k8s test cluster by hand, for debugging
// (`go run ./internal/testkube/testkube up`; ^C or `down` tears it down),
// and sweeps what a killed test run left (`sweep`). The tests themselves
// use package testkube directly.
package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/galera-sentinel/galera-sentinel/internal/testkube"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("usage: testkube up|sweep [an archive via $TESTKUBE_IMAGES, worker nodes via $TESTKUBE_NODES]")
	}
	switch args[0] {
	case "sweep":
		lock, err := testkube.Lock(ctx, 0)
		if err != nil {
			return err
		}
		defer lock.Close()
		return testkube.Sweep(ctx, testkube.Root)
	case "up":
		bin, err := testkube.BuildBinaries(ctx, log.Printf)
		if err != nil {
			return err
		}
		pause, err := testkube.BuildPause(ctx)
		if err != nil {
			return err
		}
		var images []string
		if v := os.Getenv("TESTKUBE_IMAGES"); v != "" {
			images = append(images, v)
		}
		nodes := 0
		if v := os.Getenv("TESTKUBE_NODES"); v != "" {
			if nodes, err = strconv.Atoi(v); err != nil {
				return fmt.Errorf("TESTKUBE_NODES=%q: %w", v, err)
			}
		}
		c, err := testkube.Start(ctx, testkube.Options{BinDir: bin, PauseArchive: pause, Images: images, Nodes: nodes, Logf: log.Printf})
		if err != nil {
			return err
		}
		fmt.Printf("export KUBECONFIG=%s PATH=%s:$PATH\n", c.Kubeconfig, bin)
		<-ctx.Done()
		return c.Stop()
	}
	return fmt.Errorf("unknown command %q", args[0])
}

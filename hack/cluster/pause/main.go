// pause is the process every pod sandbox runs (containerd's sandbox_image): it holds the
// pod's namespaces open, reaps the zombies a shared PID namespace leaves with it, and exits
// on SIGINT or SIGTERM. Built static (CGO_ENABLED=0), so its image is this one file.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for received := range signals {
		if received != syscall.SIGCHLD {
			os.Exit(0)
		}
		reapChildren()
	}
}

// reapChildren collects every exited child: one SIGCHLD may stand for several.
func reapChildren() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

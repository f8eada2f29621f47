package testutil

import (
	"os"
	"testing"

	"go.podman.io/storage/pkg/reexec"
)

// Main is the TestMain of any package whose tests use stores: ordinary
// pulls (PutLayer) re-execute the test binary to unpack in a chroot, which
// only works if reexec.Init runs first.
//
//	func TestMain(m *testing.M) { testutil.Main(m) }
func Main(m *testing.M) {
	if reexec.Init() {
		return
	}
	os.Exit(m.Run())
}

// Package apply materialises layer entries under a destination directory
// (overlay's staging dir) and never outside it.
//
// Every path is resolved relative to an O_PATH fd of the destination with
// openat2(RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS); the
// final component is then acted on with *at syscalls relative to its
// parent's fd. A name that is not local, or whose parent chain crosses a
// symlink, is rejected with an *InsecurePathError instead of being
// silently confined (upstream's chunked differ rewrites "../x" to "/x";
// the ordinary pull in pkg/archive rejects breakouts, and so do we).
//
// Where upstream's chunked differ and the ordinary pull (pkg/archive.Unpack)
// disagree in ways docs/BEHAVIOUR.md records as accidents, this package follows
// the ordinary pull: symlinks get owner, times and xattrs; devices and
// fifos are created; directory times are restored after their children
// exist (FinishDirs); IDs are mapped container→host, ChownOpts included;
// ForceMask neither chowns nor drops the setuid/setgid/sticky bits from
// user.containers.override_stat; parents created on demand belong to the
// mapped root. Those parents get mode 0755 (upstream: 0, pkg/archive:
// 0777&^umask). Kept from upstream: a duplicate regular file is an error,
// a hard link replaces an existing non-directory, the hard link entry's
// attributes go to the shared inode, security.selinux is never set.
//
// A Root is safe for concurrent use: entries may be created from several
// goroutines as long as a parent's entry is applied before its children and
// hard links come after their targets (the caller defers them).
package apply

package apply

import (
	"encoding/base64"
	"fmt"
	"maps"
	"os"

	"github.com/chunkdiff/chunkdiff/formats/toc"
	"go.podman.io/storage/pkg/idtools"
)

// OverrideStatXattr is where ForceMask keeps an entry's real owner, mode and
// type (the name fuse-overlayfs and c/storage read back).
const OverrideStatXattr = idtools.ContainersOverrideXattr

// Transform returns e as it will be materialised: IDs replaced by ChownOpts
// and/or mapped, and ForceMask applied. It touches no filesystem. The Root
// methods call it themselves; pass them the entry as it is in the TOC.
//
// ID mapping follows pkg/archive.Unpack (remapIDs): the IDs are ChownOpts if
// set, else the entry's; then, if any mapping is set, they are translated
// container→host (ToHost). Upstream's chunked differ maps host→container,
// skips ChownOpts when GIDMaps is empty, and BEHAVIOUR.md "id-mapping" calls that
// unexplained: a layer's IDs are container IDs, so ToHost is the direction
// that makes the staged tree look like an ordinary pull.
//
// ForceMask follows pkg/archive too: mode becomes ForceMask, char/block/fifo
// become empty regular files, and entries that end up dir or reg get
// OverrideStatXattr = "<uid>:<gid>:<octal perms>:<type>" (raw text, not
// base64, on disk: upstream's chunked differ base64-encodes it only because
// TOC xattr values are base64; idtools.GetContainersOverrideXattr reads raw
// text). Unlike upstream's chunked differ the setuid/setgid/sticky bits are
// kept in the value, as pkg/archive keeps them.
func (o *Options) Transform(e *toc.Entry) (toc.Entry, error) {
	out := *e
	uid, gid := e.UID, e.GID
	if o.ChownOpts != nil {
		uid, gid = o.ChownOpts.UID, o.ChownOpts.GID
	}
	var err error
	if out.UID, err = toHost(uid, o.UIDMaps); err != nil {
		return out, &UnmappedIDError{Name: e.Name, Kind: "uid", ID: uid, Err: err}
	}
	if out.GID, err = toHost(gid, o.GIDMaps); err != nil {
		return out, &UnmappedIDError{Name: e.Name, Kind: "gid", ID: gid, Err: err}
	}
	if o.ForceMask == nil {
		return out, nil
	}
	out.Mode = int64(unixPerm(*o.ForceMask))
	switch e.Type {
	case toc.TypeChar, toc.TypeBlock, toc.TypeFifo:
		out.Type = toc.TypeReg
		out.Size = 0
	}
	if out.Type != toc.TypeDir && out.Type != toc.TypeReg {
		return out, nil
	}
	typ, err := typeMode(e.Type)
	if err != nil {
		return out, entryErr(e.Name, "force mask", err)
	}
	value := idtools.FormatContainersOverrideXattrDevice(out.UID, out.GID,
		typ|fileMode(e.Mode), int(e.DevMajor), int(e.DevMinor))
	out.Xattrs = maps.Clone(e.Xattrs)
	if out.Xattrs == nil {
		out.Xattrs = map[string]string{}
	}
	out.Xattrs[OverrideStatXattr] = base64.StdEncoding.EncodeToString([]byte(value))
	return out, nil
}

// toHost maps one container ID; no mapping means identity.
func toHost(id int, m []idtools.IDMap) (int, error) {
	if len(m) == 0 {
		return id, nil
	}
	return idtools.RawToHost(id, m)
}

func typeMode(t string) (os.FileMode, error) {
	switch t {
	case toc.TypeReg, toc.TypeHardlink:
		return 0, nil
	case toc.TypeDir:
		return os.ModeDir, nil
	case toc.TypeSymlink:
		return os.ModeSymlink, nil
	case toc.TypeChar:
		return os.ModeDevice | os.ModeCharDevice, nil
	case toc.TypeBlock:
		return os.ModeDevice, nil
	case toc.TypeFifo:
		return os.ModeNamedPipe, nil
	}
	return 0, fmt.Errorf("unknown entry type %q", t)
}

// fileMode converts raw tar mode bits (0o4000 = setuid…) to os.FileMode.
func fileMode(raw int64) os.FileMode {
	m := os.FileMode(raw) & os.ModePerm
	if raw&0o4000 != 0 {
		m |= os.ModeSetuid
	}
	if raw&0o2000 != 0 {
		m |= os.ModeSetgid
	}
	if raw&0o1000 != 0 {
		m |= os.ModeSticky
	}
	return m
}

// unixPerm converts an os.FileMode to the 0o7777 bits chmod takes.
func unixPerm(m os.FileMode) uint32 {
	p := uint32(m & os.ModePerm)
	if m&os.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&os.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&os.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}

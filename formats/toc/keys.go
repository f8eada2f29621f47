package toc

import "strings"

// Keys are matched case-insensitively, like upstream's reader. The exact
// spelling the writer uses is tried first so the common case does not
// allocate a lower-cased copy.

type key int

const (
	keyUnknown key = iota
	keyVersion
	keyEntries
	keyTarSplitDigest
	keyType
	keyName
	keyLinkName
	keyMode
	keySize
	keyUID
	keyGID
	keyModTime
	keyAccessTime
	keyChangeTime
	keyDevMajor
	keyDevMinor
	keyXattrs
	keyDigest
	keyOffset
	keyEndOffset
	keyChunkSize
	keyChunkOffset
	keyChunkDigest
	keyChunkType
	keyInnerOffset
)

func topKey(field string) key {
	switch strings.ToLower(field) {
	case "version":
		return keyVersion
	case "entries":
		return keyEntries
	case "tarsplitdigest":
		return keyTarSplitDigest
	}
	return keyUnknown
}

func entryKey(field string) key {
	switch field {
	case "type":
		return keyType
	case "name":
		return keyName
	case "linkName":
		return keyLinkName
	case "mode":
		return keyMode
	case "size":
		return keySize
	case "uid":
		return keyUID
	case "gid":
		return keyGID
	case "modtime":
		return keyModTime
	case "accesstime":
		return keyAccessTime
	case "changetime":
		return keyChangeTime
	case "devMajor":
		return keyDevMajor
	case "devMinor":
		return keyDevMinor
	case "xattrs":
		return keyXattrs
	case "digest":
		return keyDigest
	case "offset":
		return keyOffset
	case "endOffset":
		return keyEndOffset
	case "chunkSize":
		return keyChunkSize
	case "chunkOffset":
		return keyChunkOffset
	case "chunkDigest":
		return keyChunkDigest
	case "chunkType":
		return keyChunkType
	case "innerOffset":
		return keyInnerOffset
	}
	switch strings.ToLower(field) {
	case "type":
		return keyType
	case "name":
		return keyName
	case "linkname":
		return keyLinkName
	case "mode":
		return keyMode
	case "size":
		return keySize
	case "uid":
		return keyUID
	case "gid":
		return keyGID
	case "modtime":
		return keyModTime
	case "accesstime":
		return keyAccessTime
	case "changetime":
		return keyChangeTime
	case "devmajor":
		return keyDevMajor
	case "devminor":
		return keyDevMinor
	case "xattrs":
		return keyXattrs
	case "digest":
		return keyDigest
	case "offset":
		return keyOffset
	case "endoffset":
		return keyEndOffset
	case "chunksize":
		return keyChunkSize
	case "chunkoffset":
		return keyChunkOffset
	case "chunkdigest":
		return keyChunkDigest
	case "chunktype":
		return keyChunkType
	case "inneroffset":
		return keyInnerOffset
	}
	return keyUnknown
}

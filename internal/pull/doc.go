// Package pull pulls an image from a registry into a containers/storage
// store: each layer through chunkdiff's differ over the registry range
// source (an ordinary download wherever the lifecycle, or the registry,
// says fall back), then the image committed the way containers/image's
// storage transport commits it (same image ID, layer IDs, names, big-data
// keys and metadata), so podman and skopeo see the same image.
package pull

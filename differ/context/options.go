package dcontext

import "strings"

// Pull option keys, as in containers-storage.conf [storage.options.pull_options].
const (
	KeyEnablePartialImages = "enable_partial_images"
	KeyConvertImages       = "convert_images"
	KeyUseHardLinks        = "use_hard_links"
	KeyInsecureAllow       = "insecure_allow_unpredictable_image_contents"
	KeyOSTreeRepos         = "ostree_repos"
	// KeyMetadataPolicy is ours (upstream ignores keys it does not know):
	// "stream" or "upstream", Limits.MetadataPolicy for pulls through a
	// store (podman, CRI-O).
	KeyMetadataPolicy = "chunkdiff_metadata_policy"
)

// PullOptions are the store's pull options, parsed like upstream parses them.
type PullOptions struct {
	EnablePartialImages bool `json:"enable_partial_images"`
	ConvertImages       bool `json:"convert_images"`
	UseHardLinks        bool `json:"use_hard_links"`
	// InsecureAllowUnpredictableImageContents skips the DiffID check and lets
	// layers without a tar-split (and eStargz) be pulled partially.
	InsecureAllowUnpredictableImageContents bool `json:"insecure_allow_unpredictable_image_contents"`
	// OSTreeRepos lists OSTree repositories to reuse files from. Unlike
	// upstream, an unset or empty value means no repository (upstream yields
	// one empty-string path, i.e. a relative "objects/..." lookup).
	OSTreeRepos []string `json:"ostree_repos,omitempty"`
	// MetadataPolicy is KeyMetadataPolicy as given ("" if unset); the
	// differ's config validates it and makes it the limits' policy.
	MetadataPolicy string `json:"chunkdiff_metadata_policy,omitempty"`
}

// ParsePullOptions reads the keys upstream reads, with its defaults: booleans
// are true only for a case-insensitive "true".
func ParsePullOptions(m map[string]string) PullOptions {
	isTrue := func(k string) bool { return strings.ToLower(m[k]) == "true" }
	p := PullOptions{
		EnablePartialImages:                     isTrue(KeyEnablePartialImages),
		ConvertImages:                           isTrue(KeyConvertImages),
		UseHardLinks:                            isTrue(KeyUseHardLinks),
		InsecureAllowUnpredictableImageContents: isTrue(KeyInsecureAllow),
		MetadataPolicy:                          strings.ToLower(m[KeyMetadataPolicy]),
	}
	for _, repo := range strings.Split(m[KeyOSTreeRepos], ":") {
		if repo != "" {
			p.OSTreeRepos = append(p.OSTreeRepos, repo)
		}
	}
	return p
}

func (p PullOptions) clone() PullOptions {
	p.OSTreeRepos = append([]string(nil), p.OSTreeRepos...)
	return p
}

"""Policy delivery: sealed bundles, policy sources, and the shared versioned policy store."""

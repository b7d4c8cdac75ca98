"""Bridge networks, endpoints, IPAM and our own nftables table (depends on netns only)."""

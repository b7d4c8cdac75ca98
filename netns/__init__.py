"""Named network namespaces, interchangeable with `ip netns` (a leaf: imports nothing of ours)."""

"""Plan versions: stored and decided on by staff, read back as snapshots, rendered, sealed when final."""

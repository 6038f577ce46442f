"""WikiRoam's infrastructure: one Pulumi ComponentResource per file, and the pure functions that build its data."""

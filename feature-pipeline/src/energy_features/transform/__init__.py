"""Transform: raw records into the canonical columns of each feature group (pure functions)."""

"""Console pages: planning (being written)."""

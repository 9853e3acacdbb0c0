"""Sources of canonical data files: the synthetic population generator."""

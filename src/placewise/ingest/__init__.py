"""Ingestion: validate source files, pseudonymise at the door, quarantine bad rows, load atomically."""

"""Placewise: population health and performance intelligence for an NHS Integrated Care System."""

__version__ = "0.1.0"

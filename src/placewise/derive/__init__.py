"""Derived person-level data: registers, segments, risk."""

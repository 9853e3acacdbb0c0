"""Derived facts defined once: person attributes, registrations, event attribution and condition registers."""

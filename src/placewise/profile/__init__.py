"""ICS profiles: the configuration (geographies, organisations, indicators…) as validated data."""

from placewise.profile.model import Profile, ProfileError, load_profile

__all__ = ["Profile", "ProfileError", "load_profile"]

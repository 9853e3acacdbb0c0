"""The synthetic population generator (``placewise synth``): a calibrated, deterministic synthetic ICS."""

from placewise.sources.synth.calibrate import calibration
from placewise.sources.synth.generate import generate

__all__ = ["calibration", "generate"]

"""Measurement: the indicator catalogue computed for every period, geography and group."""

from placewise.measure.catalogue import Catalogue, CatalogueError, Indicator, load_catalogue, parse_catalogue
from placewise.measure.computation import COUNTS_SCHEMA, compute, default_range
from placewise.measure.periods import ReportingRange, periods

__all__ = [
    "COUNTS_SCHEMA", "Catalogue", "CatalogueError", "Indicator", "ReportingRange", "compute", "default_range",
    "load_catalogue", "parse_catalogue", "periods",
]

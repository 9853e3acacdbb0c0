"""Measurement: the indicator catalogue computed for every period, geography and group."""

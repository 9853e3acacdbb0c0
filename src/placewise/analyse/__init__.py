"""Analysis: public-health statistics, SPC, variation, projections."""

"""Planning to 2040: housing-led population projection by Place, demand, capacity, workforce and estates."""

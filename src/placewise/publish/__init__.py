"""Publishing: reports, web and API, with disclosure control."""

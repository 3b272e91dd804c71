"""Engine collectors: scrape inference engines' /metrics and map them onto the catalogue."""

"""Dashboard accounts: slowing down password guessing at the log-in page."""

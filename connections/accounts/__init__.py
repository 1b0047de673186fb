"""Dashboard accounts: slowing down password guessing at the log-in page; reading each request's
session and user."""

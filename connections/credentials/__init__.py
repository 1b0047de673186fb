"""A connection's credential beyond the profile: the secret or certificate in use and when it expires."""

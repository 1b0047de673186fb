"""Dashboard accounts: slowing down password guessing at the log-in page, and personal API tokens.

The names below are what the rest of the house calls; ``apitokens`` is used as a module.
"""

from connections.accounts.lockout import ThrottledAdminAuthenticationForm, ThrottledAuthenticationForm

__all__ = ["ThrottledAdminAuthenticationForm", "ThrottledAuthenticationForm"]

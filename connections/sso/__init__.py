"""Sign in with Microsoft: the dashboard's own OpenID Connect sign-in against Entra ID.

``config`` (settings and Entra's endpoints), ``backend`` (mozilla-django-oidc set up for Entra),
``mapping`` (tid + oid → user, app roles and groups → teams), ``refusals`` (why a sign-in was
refused), ``views`` and ``admin`` (the role and group mappings, for site superusers).
"""

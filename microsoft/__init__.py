"""What talks to Microsoft: Microsoft's clouds and identifiers, outbound HTTP, the Entra token
client, the Graph client, the entity catalogue, the permission planner, token claims, certificate
assertions and the diagnoses.

Plain Python with no Django and no models: callers pass in what a request needs (URLs, a policy,
credentials) and get plain values back, so everything here is testable without a database.
"""

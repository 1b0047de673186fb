"""A connection's access token: getting and refreshing it, the authorization-code flow, Test connection, admin consent and what the app was granted."""

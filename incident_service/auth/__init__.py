"""API keys: creation and revocation, the request guard, scopes, team restriction, rate limits."""

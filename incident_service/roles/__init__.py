"""Incident roles: who holds commander, scribe, communications or a team's own roles,
and the checklist of their tasks."""

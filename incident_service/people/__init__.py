"""People and teams: users, teams, membership and its audit."""

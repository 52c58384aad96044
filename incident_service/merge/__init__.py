"""Merging duplicate incidents into one (`POST /api/v1/incidents/{id}/merge`)."""

"""Inbound alerts: PagerDuty Events API v2, Alertmanager and Grafana webhooks."""

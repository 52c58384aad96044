"""Vendor integrations: outbound sync to PagerDuty, Jira and ServiceNow, and their config."""

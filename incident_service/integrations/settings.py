"""The integrations' settings: defined with every other setting in `incident_service.config`
(settings are a leaf every layer may read); named here for the integration modules."""

from incident_service.config import IntegrationSettings as IntegrationSettings

__all__ = ["IntegrationSettings"]

from tests.responses.conftest import (  # noqa: F401  (shared workflow fixtures)
    standin,
    wf_client,
    wf_database_url,
    wf_key,
    wf_settings,
)

"""The `incident-service` command: the one place the service, the pipelines and the models
meet. `main.py` composes the service's commands with the analytics, models and notebooks
commands; `models.py` is the models' commands (they read the service's settings and
database, which the `models` package itself never imports)."""

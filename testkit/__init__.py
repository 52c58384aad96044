"""What the tests and the benchmarks both run against: databases of their own on the
PostgreSQL server (`databases`), a PostgreSQL to crash (`throwaway_pg`), the API as a
subprocess (`server`), the worker as a subprocess (`worker`), the stand-in HTTP server
framework (`standin`) and the action targets' stand-in built on it (`targets`).

The benchmarks import this package, never `tests/`; the tests' fixtures build on it.
"""

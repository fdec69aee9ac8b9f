"""layers — PostGIS storage for gisgrid: models, migrations, loaders, flows and the command line.

Imports ``gisgrid`` (the core); never imported by it.
"""

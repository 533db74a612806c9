"""The package's version, in one place (read by pyproject.toml, manifests and ``sandbox --version``)."""

__version__ = "0.2.0"

"""The package version, in one place: setup.cfg reads it (``attr:``), and so do
``dataforce_orm.__version__`` and ``dataforce-orm --version``."""

__version__ = "0.2.0"

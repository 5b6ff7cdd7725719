"""parametricSN: learnable parametric scattering networks.

Subpackages: ``scattering`` (filters and the scattering layer), ``models`` (heads and ``build_model``),
``data`` (datasets and ``build_loaders``), ``training`` (``train``), ``tracking`` (MLflow), ``viz`` (filter
figures and animation); ``config`` holds the typed schema.
"""
__version__ = "0.1.0"

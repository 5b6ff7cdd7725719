"""The choices and defaults of ``psn deform``'s options, in a module that imports nothing (the parser is built by
every ``psn`` call; the modules that implement them import torch and MLflow)."""

KINDS = ("rotation", "translation", "scaling", "shear", "diffeo", "random-diffeo")  # see warps
PADDINGS = ("reflection", "zeros", "border")  # values outside the image when warping (see warps)
DEFAULT_CUTOFF = 3  # random-diffeo cut-off c (see warps)
FIXED = ("tight-frame", "random")  # RUN arguments that are untrained fixed scatterings (see sources)
LAYERS = ("scattering", "logits")  # the representations compared (see sources)
EXPERIMENT = "deformation"  # the MLflow experiment of the results (see record)

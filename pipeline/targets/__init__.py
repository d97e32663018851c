"""The outputs, one subpackage each, listed in :mod:`.registry`.

A target imports the build's contract and key policy (:mod:`pipeline.build.contract`,
:mod:`pipeline.build.keys`), the source model and markup; never another target or the
orchestrator. See README, "Adding an output"."""

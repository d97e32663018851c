"""The outputs, one subpackage each, listed in :mod:`.registry`.

A target imports the build's contract, the source model and markup; never another target
or the orchestrator. See README, "Adding an output"."""

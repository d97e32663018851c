"""The build: the stages in order (:mod:`.run`), the incremental load (:mod:`.incremental`),
the per-question fragments (:mod:`.fragments`) and the loss check (:mod:`.losses`), the one
cache (:mod:`.cache`, its keys made by :mod:`.keys`) and the writer of ``dist/`` (:mod:`.write`).

:mod:`.contract` is what targets see of the build, and :mod:`.keys` how they key what they
cache: the contract imports nothing of the pipeline at run time. This file imports nothing,
so a target importing the contract never loads the orchestrator."""

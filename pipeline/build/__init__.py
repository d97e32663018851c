"""The build: the stages in order (:mod:`.run`), the per-question fragments
(:mod:`.fragments`), the one cache (:mod:`.cache`) and the writer of ``dist/`` (:mod:`.write`).

:mod:`.contract` is what targets see of the build: it imports nothing of the pipeline. This
file imports nothing, so a target importing the contract never loads the orchestrator."""

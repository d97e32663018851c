"""The Anki deck: one ``.apkg`` whose notes keep their ids across builds, so a re-import keeps
every subscriber's review history."""

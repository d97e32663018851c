"""The Anki deck: one ``.apkg`` whose notes keep their ids across builds, so a re-import keeps
every subscriber's review history.

``target`` (render and fragment: the rules a re-import relies on) · ``fields`` (a
question's note fields as HTML) · ``notetype`` (the note type, the card templates and the
migration rule) · ``deck`` (GUIDs, ids, subdecks and new-card order) · ``lock`` (when each
note last changed) · ``package`` (the collection through genanki and the reproducible zip).
"""

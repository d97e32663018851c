"""``pipeline import-telegram``: a Telegram Desktop export into questions of the source format.

The modules, in the order the import runs:

* :mod:`.cli`: the subcommand's options and printed report;
* :mod:`.plan`: the import as library calls (:func:`~.plan.plan_import`, :func:`~.plan.write_plan`);
* :mod:`.export_json` and :mod:`.telegram_export`: the export file read as JSON safely, then
  checked as Telegram's structure into messages of text spans;
* :mod:`.posts`: which messages become questions (question, answer, grades, tags, time, id);
  :mod:`.post_text` finds a post's lines, lists and hashtags, :mod:`.markdown` writes them as
  Markdown, :mod:`.ids` derives ids, tags and duplicate keys;
* :mod:`.bank` and :mod:`.yaml_writer`: the YAML written, as a new file or appended to a bank.
"""

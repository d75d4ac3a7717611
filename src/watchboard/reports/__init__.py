"""The reports the office sends, rebuilt from the event stream (issue 14 item 4).

- `replay`: reads `wb.ev.>` with direct gets, from the start of the period minus a look-back,
  and the earlier history of incidents the window only shows part of (the only module that
  touches NATS);
- `model`: a pure fold of events into incident records as of a moment, `followup` the fold of
  their statements, tasks, evidence, meetings and supervision;
- `period`, `figures`, `follow_figures`: pure — the periods and every figure of the daily report
  (每日舆情汇报), the weekly supervision circular (督查通报) and an incident's review (总结评估);
- `sections`: the sections each report holds, in order;
- `document`: the figures as a neutral document (headings, paragraphs, tables, charts) in one
  language (words in `daily`, `weekly`, `review`, `follow_words`); `render_md`, `render_html`,
  `render_docx` lay it out, `charts` draws the charts;
- `command`: the `watchboard report` / `watchboard review` commands.

Never a service's private database: any host with the stream can rebuild any report.
"""

FORMATS = ("md", "html", "docx", "json")

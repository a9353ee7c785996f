"""Plan documents: a view model per audience built from a PlanSnapshot, rendered by templates.

Each audience's view model holds only what that audience may see; templates cannot reach past it.
Entry points: ``render_plan`` and ``render_diff`` in ``harbour.documents.render``.
"""

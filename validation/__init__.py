"""The theory-validation suite of lrla (run from a checkout: ``python -m validation``).

Each ``validation/<family>.py`` registers the claims of one paper with
:func:`validation.core.claim`; see ``docs/validation.md`` for how a claim is
judged and how to add one.
"""

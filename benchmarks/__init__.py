"""The benchmarks (``zjcredit bench produce|worker|sink|query|encode``), one room of their own.

Each measures a stage beside the raw limit of what it stands on, in the same run, and
prints both (the README says what bounds each figure). They import every stage room, the
shared ``harness`` and ``province``, never the ``zjcredit`` command; the command imports
them lazily. (``benchmarks.sink`` importing ``sink`` is the top-level stage: imports here
are absolute.)
"""

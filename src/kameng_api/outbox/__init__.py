"""Transactional outbox: background work is written in the caller's transaction and pushed to
arq only after commit (after-commit relay + periodic sweeper), with ``_job_id`` = outbox id."""

"""System: liveness/readiness, version and health figures, and the worker probe job."""

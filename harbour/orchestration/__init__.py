"""The lifecycle's background work without Prefect: steps, the event pipeline, the sweep, publishing."""

"""Plain-Python domain: vocabulary, rules and value objects. No I/O, no Prefect."""

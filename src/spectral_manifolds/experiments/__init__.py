"""One module per chapter experiment: ``run(config) -> result`` (JSON-able via ``to_dict``)."""

"""One module per S3 operation family; handlers return values that `gateway.render` renders."""

"""One module per S3 operation family; handlers return values, `gateway.render` turns them into HTTP."""

"""PBucket -> vendor bucket(s): placement policies, the `Upstream` interface and its vendors."""

"""PBucket -> vendor bucket(s): placement policies, the narrow `Upstream` interface and its vendors."""

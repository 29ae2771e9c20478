"""The admin REST API (`/admin/v1`, JSON, SigV4): IAM users, keys, policies, groups, roles and
bucket policies. `add_admin_routes` puts it on a node's listener; docs/admin-api.md is the guide
and `openapi.json` (served at /admin/v1/openapi.json) the contract."""

from gateway.admin.app import add_admin_routes

__all__ = ["add_admin_routes"]

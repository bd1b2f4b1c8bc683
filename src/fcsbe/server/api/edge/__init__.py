"""The request edge: what runs around every route before and after the domain does its work.

Authentication (bearer token to `Principal`), reader roles, detached-signature checks, audit
traces of refused requests, idempotency keys, paging and the problem responses declared on
routes. Only the api layer imports it.
"""
